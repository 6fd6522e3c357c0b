"""The one error family: what the tool will not or cannot do, told in one line."""


class ToolError(Exception):
    """One line naming the problem and its fix. The CLI prints it as `tf1-lstm COMMAND: error:
    LINE` and exits 2; a module gives its own subclass only where a caller tells them apart."""
