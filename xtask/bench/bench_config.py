"""stefuna 1.0.1 config module for `cargo xtask bench` (`stefuna --config bench_config`).

stefuna copies every public name of this module into its config, so helpers are private.
The endpoint comes from AWS_ENDPOINT_URL_SFN, which the boto3 that pip resolves honours.
Everything not set here keeps stefuna 1.0.1's defaults (maxtasksperchild 100, start_method
spawn), as a team running the package would have them; BENCH_MAXTASKSPERCHILD overrides
maxtasksperchild ("none" for never) and BENCH_HEARTBEAT the heartbeat (0: none), which the
bench's "best settings" row of stefuna 1.0.1 uses.
"""
import os as _os

name = "StefunaBench"
worker = "hello_worker.HelloWorker"
# Same as examples/hello.rs.
heartbeat = int(_os.environ.get("BENCH_HEARTBEAT", "120"))
# Off, as for the Rust workers (their health port is off in the bench too).
healthcheck = 0

_mtpc = _os.environ.get("BENCH_MAXTASKSPERCHILD")
if _mtpc:
    maxtasksperchild = None if _mtpc.lower() == "none" else int(_mtpc)
