"""The course's Jupyter server settings (scripts/jupyter_server_config.py) load and apply."""

from __future__ import annotations

from toc import ROOT
from traitlets.config.loader import PyFileConfigLoader

CONFIG = ROOT / "scripts" / "jupyter_server_config.py"


def test_config_sets_a_connection_without_nagle():
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

    config = PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()
    cls = config.ServerApp.kernel_websocket_connection_class
    assert issubclass(cls, ZMQChannelsWebsocketConnection)

    calls = []

    class Handler:
        def set_nodelay(self, value):
            calls.append(value)

    connection = cls.__new__(cls)
    connection._trait_values = {"websocket_handler": Handler()}
    try:
        connection.connect()
    except Exception:  # noqa: BLE001  (no kernel here: only the first line matters)
        pass
    assert calls == [True]


def test_binder_and_make_lab_use_it():
    assert "scripts/jupyter_server_config.py" in (ROOT / "postBuild").read_text()
    assert "--config=scripts/jupyter_server_config.py" in (ROOT / "Makefile").read_text()
