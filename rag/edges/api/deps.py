"""How a route gets the process's ``Service``: the dependency and its ``Annotated`` alias, declared once."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rag.service import Service


async def service(request: Request) -> Service:  # async: FastAPI runs a sync dependency in a worker thread
    return request.app.state.server


State = Annotated[Service, Depends(service)]
