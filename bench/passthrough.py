"""The floor: a minimal aiohttp JSON-RPC pass-through (no auth, no policy, no parsing).

`python bench/passthrough.py PORT UPSTREAM_URL [--uvloop]`. bench/throughput.py runs it next to
the sidecar so the cost of auth + policy is its own figure (issue 13: "against the floor").
"""

from __future__ import annotations

import sys

from aiohttp import ClientSession, web


async def forward(request: web.Request) -> web.Response:
    client: ClientSession = request.app["client"]
    async with client.post(request.app["upstream"], data=await request.read(),
                           headers={"Content-Type": "application/json"}) as answer:
        return web.Response(body=await answer.read(), content_type="application/json")


async def client(app: web.Application) -> object:
    app["client"] = ClientSession()
    yield
    await app["client"].close()


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    if "--uvloop" in sys.argv:
        import uvloop

        uvloop.install()
    app = web.Application()
    app["upstream"] = upstream
    app.cleanup_ctx.append(client)  # type: ignore[arg-type]
    app.router.add_post("/", forward)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
