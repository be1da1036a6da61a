"""DIAN's habilitación (enablement) facts, the same for every issuer (Anexo Técnico; shared/reference/dian.md).

During habilitación documents are numbered from a public test resolution with a public technical key.

>>> TEST_PREFIXES
('SETP', 'SETT', 'SETG')
>>> TEST_RANGE
(990000000, 995000000)
"""

import datetime as dt

TEST_RESOLUTION = "18760000001"
TEST_TECHNICAL_KEY = "fc8eac422eba16e22ffd8c6f94b3f40a6e38162c"
TEST_VALID_FROM = dt.date(2019, 1, 19)
TEST_VALID_TO = dt.date(2030, 1, 19)
TEST_PREFIXES = ("SETP", "SETT", "SETG")  # own software, technology provider, (rare) third prefix
TEST_RANGE = (990000000, 995000000)
