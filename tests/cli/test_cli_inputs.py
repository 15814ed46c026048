"""What ``lamina predict`` and ``lamina train --csv`` read: every row kept, columns matched by name, and every bad
value refused with its line and column (items 2, 3, 4 and 11 of issue #13)."""

import numpy as np
import pytest

from lamina.cli import main


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_headerless_rows_are_all_predicted_and_the_rule_is_in_the_help(xor_run, tmp_path, cli, cli_error, capsys):
    code, out, err = cli("predict", xor_run, "--input", write(tmp_path / "a.csv", "0,0\n0,1\n1,1\n"))
    assert code == 0 and out.split() == ["0", "1", "0"]
    code, out, _ = cli("predict", xor_run, "--input", write(tmp_path / "b.csv", "0,0\n0,1\n1,1\n"),
                       "--output", tmp_path / "p.csv")
    assert code == 0 and "3 predictions" in out
    assert (tmp_path / "p.csv").read_text().split() == ["prediction", "0", "1", "0"]
    # the report's case: a first row with an empty cell is data (and refused, with its place), never a header
    cli_error("predict", xor_run, "--input", write(tmp_path / "c.csv", "0,\n0,1\n1,1\n"),
              match="c.csv: line 1, column 2 holds an empty cell")
    # --header / --no-header decide for the user
    code, out, _ = cli("predict", xor_run, "--input", write(tmp_path / "d.csv", "x2,x1\n1,0\n"), "--header")
    assert code == 0 and out.split() == ["1"]
    cli_error("predict", xor_run, "--input", write(tmp_path / "f.csv", "1,0\n0,1\n"), "--header",
              match="missing 'x1', 'x2'; unexpected '1', '0'")
    cli_error("predict", xor_run, "--input", write(tmp_path / "e.csv", "x1,x2\n0,1\n"), "--no-header",
              match="line 1, column 1 holds 'x1', not a finite number")
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "the first row is a header when one of its cells is text that is not a number" in help_text


def test_header_columns_are_matched_by_name(xor_run, tmp_path, cli, cli_error):
    code, out, _ = cli("predict", xor_run, "--input", write(tmp_path / "a.csv", "x2,x1\n1,0\n0,0\n"))
    assert code == 0 and out.split() == ["1", "0"]
    line = cli_error("predict", xor_run, "--input", write(tmp_path / "b.csv", "x1,x3\n1,0\n"),
                     match="the header's columns do not match the run's features (missing 'x2'; unexpected 'x3')")
    assert "--no-header" in line
    cli_error("predict", xor_run, "--input", write(tmp_path / "c.csv", "x1,x2,id\n1,0,7\n"),
              match="unexpected 'id'")
    cli_error("predict", xor_run, "--input", write(tmp_path / "d.csv", "x1,x2\n1,0\n1\n"),
              match="d.csv: line 3 has 1 fields but the header has 2")


def test_nan_and_inf_inputs_are_refused_with_their_place(xor_run, tmp_path, cli_error, recwarn):
    cli_error("predict", xor_run, "--input", write(tmp_path / "a.csv", "x1,x2\n0,1\n1,nan\n"),
              match="a.csv: line 3, column 'x2' holds 'nan', not a finite number")
    cli_error("predict", xor_run, "--input", write(tmp_path / "b.csv", "1,0\ninf,1\n"),
              match="line 2, column 1 holds 'inf'")
    X = np.array([[0, 1], [1, -np.inf]])
    np.save(tmp_path / "c.npy", X)
    cli_error("predict", xor_run, "--input", tmp_path / "c.npy", match="holds -inf at row 1, column 1")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_files_that_are_not_utf8_are_named_with_the_problem(xor_run, tmp_path, cli_error):
    latin = write(tmp_path / "latin.csv", "x1,x2\n0,1\n# café\n", encoding="latin-1")
    cli_error("predict", xor_run, "--input", latin, match="latin.csv is not UTF-8 text (byte 0xe9 on line 3)")
    table = write(tmp_path / "prix.csv", "taille,prix\n1,2\n2,4\n3,6\n4,8\n5,10\n# é\n", encoding="latin-1")
    cli_error("train", "--csv", table, "--target", "prix", "--out", tmp_path / "run",
              match="prix.csv: not UTF-8 text (byte 0xe9 on line 7)")
    assert not (tmp_path / "run").exists()


def test_a_nan_or_infinite_target_is_refused_before_training(tmp_path, cli_error):
    rows = [f"{i},{2 * i}" for i in range(20)]
    rows[7] = "7,nan"
    table = write(tmp_path / "t.csv", "x,y\n" + "\n".join(rows) + "\n")
    cli_error("train", "--csv", table, "--target", "y", "--out", tmp_path / "run",
              match="t.csv: line 9, target 'y' is 'nan', not a finite number")
    rows[7] = "7,-inf"
    write(table, "x,y\n" + "\n".join(rows) + "\n")
    cli_error("train", "--csv", table, "--target", "y", "--task", "regression", "--out", tmp_path / "run",
              match="line 9, target 'y' is '-inf'")
    assert not (tmp_path / "run").exists()


def test_predictions_are_written_whole_with_one_per_row(xor_run, tmp_path, cli, cli_error):
    rows = write(tmp_path / "in.csv", "x1,x2\n0,0\n0,1\n1,0\n1,1\n")
    code, out, _ = cli("predict", xor_run, "--input", rows, "--output", tmp_path / "p.npy")
    assert code == 0 and "wrote 4 predictions for 4 input rows" in out
    assert np.load(tmp_path / "p.npy").tolist() == [0, 1, 1, 0]
    cli_error("predict", xor_run, "--input", rows, "--output", tmp_path / "nowhere" / "p.csv",
              match="the folder " + str(tmp_path / "nowhere") + " does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "p.npy"]  # no temporary file left
