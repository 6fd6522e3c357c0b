"""The one error family: what the tool will not or cannot do, told in one line."""


class ToolError(Exception):
    """One line naming the problem and its fix. The CLI prints it as `tf1-lstm COMMAND: error:
    LINE` and exits 2; a module gives its own subclass only where a caller tells them apart."""

    kind = "error"  # its name in a study's result record (the worker contract), where the
    #                 engine tells one apart from another in another process

    def fields(self):
        """What the result record carries besides its kind and line."""
        return {}
