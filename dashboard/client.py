"""A client of the dashboard's websocket protocol, as a browser tab speaks it: open the app, switch pages, move
widgets (inside a fragment only that fragment reruns) and wait for the server's "script finished". Used by the
warm-up at start (dashboard/warm_up.py), the load test (benchmarks/load_test.py) and the fragment test."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


class Session:
    """One browser tab: a websocket to the server, the pages it was told about and the widgets it has seen. Through
    the proxy, it first fetches the page as a browser does and keeps the route cookie the proxy sets."""

    def __init__(self, url: str):
        self.url = url
        self.pages: dict[str, str] = {}
        self.widgets: dict[str, str] = {}
        self.fragments: dict[str, str] = {}  # widget key -> the fragment it was drawn in (as the browser keeps it)

    async def __aenter__(self) -> Session:
        page = self.url.replace("ws://", "http://").replace("/_stcore/stream", "/")
        cookies = await asyncio.to_thread(
            lambda: urllib.request.urlopen(page, timeout=60).headers.get_all("Set-Cookie")
        )
        route = [c.split(";")[0] for c in cookies or [] if c.startswith("hcc_route=")]
        self.socket = await websockets.connect(
            self.url,
            subprotocols=["streamlit"],
            max_size=None,
            additional_headers={"Cookie": route[0]} if route else None,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.socket.close()

    async def rerun(
        self, page: str = "", widgets: dict[str, float | str] | None = None, fragment: str | None = None
    ) -> float:
        """Seconds from the rerun request until the script finished (the page is complete on the server);
        ``widgets``: user key -> value (a float for a slider, the shown option for a radio). ``fragment``: the key
        of the widget the user moved; when it was drawn in a fragment, only that fragment reruns (as in a browser)."""
        message = BackMsg()
        state = message.rerun_script
        state.page_script_hash = self.pages.get(page, "")
        if fragment and self.fragments.get(fragment):
            state.fragment_id = self.fragments[fragment]
        for key, value in (widgets or {}).items():
            item = state.widget_states.widgets.add()
            item.id = self.widgets[key]
            if isinstance(value, str):
                item.string_value = value
            else:
                item.double_array_value.data.append(value)
        start = time.perf_counter()
        self.received: list[tuple[str, str]] = []  # (fragment id, element kind) of each element this rerun drew
        await self.socket.send(message.SerializeToString())
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(await asyncio.wait_for(self.socket.recv(), timeout=300))
            kind = forward.WhichOneof("type")
            if kind == "navigation":
                self.pages = {page.page_name: page.page_script_hash for page in forward.navigation.app_pages}
            elif kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                element = forward.delta.new_element
                kind = element.WhichOneof("type")
                self.received.append((forward.delta.fragment_id, kind))
                if kind in ("slider", "radio", "selectbox", "number_input") and getattr(element, kind).id:
                    widget_id = getattr(element, kind).id
                    self.widgets[widget_id.rsplit("-", 1)[-1]] = widget_id
                    self.fragments[widget_id.rsplit("-", 1)[-1]] = forward.delta.fragment_id
            elif kind == "script_finished":
                return time.perf_counter() - start
