import numpy as np
import pytest

from lamina import datasets


def write(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def species_table(n=40):
    rng = np.random.default_rng(0)
    rows = ["length,width,species"]
    for i in range(n):
        kind = ["setosa", "virginica"][i % 2]
        rows.append(f"{rng.normal() + 3 * (i % 2):.4f},{rng.normal():.4f},{kind}")
    return "\n".join(rows) + "\n"


def test_string_labels_become_codes_with_class_names(tmp_path):
    split = datasets.load_csv(write(tmp_path, species_table()), target="species", test_size=0.25, seed=1)
    assert split.task == "classification" and split.n_classes == 2
    assert split.target_names == ("setosa", "virginica") and split.feature_names == ("length", "width")
    assert split.X_train.shape == (30, 2) and split.X_train.dtype == np.float32
    assert split.y_train.dtype == np.int64 and np.bincount(split.y_test.array).tolist() == [5, 5]
    raw = datasets.load_csv(write(tmp_path, species_table()), target="species", test_size=0.25, seed=1, scale=False)
    # label codes follow the rows: virginica (code 1) rows have length around 3
    assert raw.X_train.array[raw.y_train.array == 1, 0].mean() > 2
    assert raw.X_train.array[raw.y_train.array == 0, 0].mean() < 1
    assert split.name == "table"


def test_integer_labels_and_regression_inferred(tmp_path):
    rows = ["a,b,label,price"] + [f"{i},{i % 3},{[3, 7][i % 2]},{i * 1.5 + 0.25}" for i in range(30)]
    path = write(tmp_path, "\n".join(rows))
    labels = datasets.load_csv(path, target="label", scale=False)
    assert labels.task == "classification" and labels.target_names == ("3", "7")
    assert labels.feature_names == ("a", "b", "price")
    price = datasets.load_csv(path, target="price", scale=False)
    assert price.task == "regression" and price.n_classes is None and price.target_names == ("price",)
    assert price.y_train.dtype == np.float32 and price.y_train.shape == (24, 1)
    np.testing.assert_allclose(price.y_train.array[:, 0], price.X_train.array[:, 0] * 1.5 + 0.25, rtol=1e-6)
    forced = datasets.load_csv(path, target="label", task="regression")
    assert forced.task == "regression"
    grades = write(tmp_path, "\n".join(["x,grade"] + [f"{i},{i // 2}" for i in range(50)]), "grades.csv")
    assert datasets.load_csv(grades, target="grade").task == "regression"  # 25 distinct values: more than 20
    as_classes = datasets.load_csv(grades, target="grade", task="classification", test_size=0.5)
    assert as_classes.task == "classification" and as_classes.n_classes == 25
    assert sorted(as_classes.y_test.tolist()) == list(range(25))


def test_many_distinct_integers_are_regression_and_whitespace_blank_lines_bom(tmp_path):
    rows = ["\ufeffx , y"] + [f" {i} , {i * 7}" for i in range(25)] + ["", "   "]
    split = datasets.load_csv(write(tmp_path, "\n".join(rows)), target="y", test_size=5, scale=False)
    assert split.task == "regression" and split.feature_names == ("x",) and len(split.X_test) == 5


def test_missing_target_lists_the_columns(tmp_path):
    with pytest.raises(ValueError, match=r"table\.csv: no column 'kind'; the columns are: length, width, species"):
        datasets.load_csv(write(tmp_path, species_table()), target="kind")


def test_non_numeric_feature_is_named_with_line(tmp_path):
    text = "size,colour,price\n1.0,2,3\n2.0,red,4\n"
    with pytest.raises(ValueError, match=r"column 'colour' is not numeric: 'red' on line 3"):
        datasets.load_csv(write(tmp_path, text), target="price")
    with pytest.raises(ValueError, match=r"column 'size' is not numeric: '' on line 3 \(missing"):
        datasets.load_csv(write(tmp_path, "size,price\n1.0,3\n,4\n"), target="price")
    with pytest.raises(ValueError, match=r"column 'size' is not numeric: 'nan' on line 2"):
        datasets.load_csv(write(tmp_path, "size,price\nnan,3\n1,4\n"), target="price")


def test_ragged_rows_empty_files_and_other_errors(tmp_path):
    with pytest.raises(ValueError, match=r"line 4 has 2 fields but the header has 3"):
        datasets.load_csv(write(tmp_path, "a,b,c\n1,2,3\n4,5,6\n7,8\n"), target="c")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        datasets.load_csv(write(tmp_path, "", "empty.csv"), target="c")
    with pytest.raises(ValueError, match="no data rows below the header"):
        datasets.load_csv(write(tmp_path, "a,b,c\n\n"), target="c")
    with pytest.raises(ValueError, match=r"duplicate column names \['a'\]"):
        datasets.load_csv(write(tmp_path, "a,a,c\n1,2,3\n"), target="c")
    with pytest.raises(ValueError, match="no feature columns besides the target 'c'"):
        datasets.load_csv(write(tmp_path, "c\n1\n2\n"), target="c")
    with pytest.raises(ValueError, match=r"target 'c' is missing on line 3"):
        datasets.load_csv(write(tmp_path, "a,c\n1,2\n3,\n"), target="c")
    with pytest.raises(ValueError, match=r"column 'c' is not numeric: 'big' on line 3"):
        datasets.load_csv(write(tmp_path, "a,c\n1,2\n3,big\n"), target="c", task="regression")
    with pytest.raises(ValueError, match=r"target 'c' has non-integer values such as '2\.5'; use task='regression'"):
        datasets.load_csv(write(tmp_path, "a,c\n1,1\n3,2.5\n"), target="c", task="classification")
    with pytest.raises(ValueError, match="task must be 'classification', 'regression' or None, got 'ranking'"):
        datasets.load_csv(write(tmp_path, "a,c\n1,1\n3,2\n"), target="c", task="ranking")
    with pytest.raises(FileNotFoundError, match=r"nothere\.csv: no such file"):
        datasets.load_csv(tmp_path / "nothere.csv", target="c")
    with pytest.raises(ValueError, match="cannot split 3 samples"):
        datasets.load_csv(write(tmp_path, "a,c\n1,x\n2,y\n3,y\n"), target="c")
