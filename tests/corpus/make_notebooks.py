"""Build the corpus notebooks (``tests/corpus/<assignment>/*.ipynb``) with nbformat.

    python -m tests.corpus.make_notebooks

The cells live in ``notebook_cells.py`` beside this file, one list per notebook: each cell is
``md(text)`` or ``code(text, *outputs)``; outputs are only there to look like a notebook that
was run (the grader never executes or reads them). Rebuilding gives the same files.
"""
from __future__ import annotations

import nbformat
from nbformat import v4

from tests.corpus import CORPUS
from tests.corpus.notebook_cells import NOTEBOOKS

KERNEL = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11.7", "mimetype": "text/x-python",
                      "file_extension": ".py", "codemirror_mode": {"name": "ipython", "version": 3},
                      "nbconvert_exporter": "python", "pygments_lexer": "ipython3"},
}


def build(cells) -> nbformat.NotebookNode:
    nb = v4.new_notebook(metadata=KERNEL)
    count = 0
    for i, cell in enumerate(cells):
        kind, text, outputs = cell
        if kind == "md":
            new = v4.new_markdown_cell(text)
        else:
            count += 1
            new = v4.new_code_cell(text, execution_count=count, outputs=[_output(o, count) for o in outputs])
        new["id"] = f"cell-{i:02d}"  # stable ids: rebuilding gives the same file
        nb.cells.append(new)
    nbformat.validate(nb)
    return nb


def _output(spec, count):
    kind, payload = spec
    if kind == "stdout":
        return v4.new_output("stream", name="stdout", text=payload)
    if kind == "stderr":
        return v4.new_output("stream", name="stderr", text=payload)
    if kind == "error":
        ename, evalue = payload
        return v4.new_output("error", ename=ename, evalue=evalue,
                             traceback=[f"{ename}: {evalue}"])
    if kind == "result":
        return v4.new_output("execute_result", data={"text/plain": payload}, execution_count=count)
    if kind == "figure":
        return v4.new_output("display_data", data={"text/plain": f"<Figure size {payload} with 1 Axes>"})
    raise ValueError(kind)


def main() -> None:
    for rel, cells in NOTEBOOKS.items():
        path = CORPUS / rel
        nbformat.write(build(cells), str(path))
        print("wrote", path.relative_to(CORPUS))


if __name__ == "__main__":
    main()
