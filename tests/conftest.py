import sys
from pathlib import Path

# The tests import their helpers as `tests.helpers` whichever directory pytest starts in.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
