"""Jupyter server settings for the course: kernel messages reach the browser at once.

jupyter_server talks to the browser over a tornado websocket and leaves Nagle's algorithm
on. One slider move sends a few small messages (the slider's echo, the kernel's "busy")
before the new image, and with Nagle on the image can then wait for the browser's delayed
ACK: up to 40 ms on Linux, on about half of the moves. Measured with
``benchmarks/lab_latency.py`` on chapter 2's rate slider (p50 / p95): 66 / 84 ms with Nagle,
40-51 / 48-58 ms without. Tornado's ``set_nodelay(True)`` turns it off for one connection;
the connection class below calls it when a kernel's websocket connects.

``make lab`` passes this file to JupyterLab (``--config``), Binder's ``postBuild`` copies
it to ``~/.jupyter/``, and the benchmark runs with it.
"""

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayConnection(ZMQChannelsWebsocketConnection):
    """The default kernel websocket connection, with TCP_NODELAY on its socket."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()


c = get_config()  # noqa: F821  (defined when Jupyter reads a config file)
c.ServerApp.kernel_websocket_connection_class = NoDelayConnection
