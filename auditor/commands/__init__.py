"""Commands that compose the stages: `run` (collect or load, judge, report, deliver),
`collect`, `explain`, `diff`, `fleet`, and the listings of checks and permissions. The CLI
parses arguments and calls these; each stage's own work stays in its folder."""
