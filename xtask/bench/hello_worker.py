"""The stefuna 1.0.1 (Python) side of `cargo xtask bench`: the hello worker.

{"name": N} -> {"message": "Hello N"}, the same output as examples/hello.rs.
"""
from stefuna import Worker


class HelloWorker(Worker):
    """Answers each task with a greeting."""

    def run_task(self, task_token, input_data):
        return {"message": "Hello {0}".format(input_data["name"])}
