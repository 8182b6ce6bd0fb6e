"""JSON bodies must be objects: a bare list or string is a malformed request, not an empty one."""

from __future__ import annotations

import json

from django.http import HttpRequest
from ninja.parser import Parser

from quanzi.core.text import contains_nul


class NotAJSONObject(ValueError):
    pass


class NulInText(ValueError):
    pass


class ObjectJSONParser(Parser):
    def parse_body(self, request: HttpRequest) -> dict:
        data = json.loads(request.body)
        if not isinstance(data, dict):
            raise NotAJSONObject("the request body must be a JSON object")
        if contains_nul(data):
            raise NulInText("text may not contain NUL characters")
        return data
