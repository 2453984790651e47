import math

import pytest

from vlmbias.core.config import ConfigError
from vlmbias.core.seeds import fmt, mean_std, table_seeds


def test_table_seeds_count_list_and_default():
    assert table_seeds({}, 5) == [5]
    assert table_seeds({"seeds": 3}, 5) == [5, 6, 7]
    assert table_seeds({"seeds": [0, 4]}, 5) == [0, 4]


@pytest.mark.parametrize("bad", [0, -1, True, [], [1, 1], "3", [1.5]])
def test_table_seeds_bad_values_name_the_key(bad):
    with pytest.raises(ConfigError, match="lle.urbancars.seeds"):
        table_seeds({"seeds": bad}, 0, "lle.urbancars.")


def test_mean_std_sample_std_and_formatting():
    m, sd, n = mean_std([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and sd == pytest.approx(1.0)
    assert mean_std([4.0]) == (4.0, 0.0, 1)
    m, sd, n = mean_std([float("nan"), None])
    assert n == 0 and math.isnan(m)
    assert fmt(2.0, 1.0, 3) == "2.0 ± 1.0"
    assert fmt(2.0, 0.0, 1) == "2.0"
    assert fmt(float("nan"), float("nan"), 0) == ""
