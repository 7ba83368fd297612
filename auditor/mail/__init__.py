"""Mail standards as pure functions, no I/O: addresses and accepted-domain coverage, SPF
(RFC 7208) and DMARC (RFC 7489). Collectors use them to know what to look up; checks use them
to judge what was found."""
