"""Renders the partner API's OpenAPI document as a static reference page.

    python tools/render_openapi.py            # writes web/docs/partner-api/index.html
    python tools/render_openapi.py --check    # exit 1 when the page is not current

The document (functions/optin/api/partner-openapi.json) is the one source; this page is
derived from it and a test (tests/unit/build/test_reference_page.py) fails when it is stale.
Plain HTML with the stylesheet beside it: no script, no CDN, nothing inline, so the page works
offline and under the pages' Content-Security-Policy (style-src 'self', no inline styles),
locally (/docs/partner-api/) and on the stack's web distribution (`make deploy-web`).
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from html import escape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "functions" / "optin" / "api" / "partner-openapi.json"
PAGE = ROOT / "web" / "docs" / "partner-api" / "index.html"
METHODS = ("get", "put", "post", "delete", "patch")
REPOSITORY_DOCUMENT = "functions/optin/api/partner-openapi.json"


def text(raw: str | None) -> str:
    """The descriptions' small Markdown: paragraphs, `code` and **bold**; the rest escaped."""
    if not raw:
        return ""
    paragraphs = []
    for block in raw.strip().split("\n\n"):
        html = escape(block.strip())
        html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
        html = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", html)
        paragraphs.append(f"<p>{html}</p>")
    return "\n".join(paragraphs)


def schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict[str, Any]) -> str:
    """A schema in a few words, with links to named schemas."""
    if "$ref" in schema:
        name = schema_name(schema["$ref"])
        return f'<a href="#schema-{name}">{escape(name)}</a>'
    for combinator, joiner in (("oneOf", " or "), ("anyOf", " or "), ("allOf", " and ")):
        if combinator in schema:
            return joiner.join(type_of(part) for part in schema[combinator])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if kind == "array" and "items" in schema:
        return f"array of {type_of(schema['items'])}"
    if "format" in schema:
        kind += f" ({schema['format']})"
    return escape(str(kind))


def constraints(schema: dict[str, Any]) -> str:
    found = []
    if "enum" in schema:
        found.append(
            "one of " + ", ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
        )
    for key, words in (
        ("minLength", "at least {} characters"),
        ("maxLength", "at most {} characters"),
        ("minimum", "at least {}"),
        ("maximum", "at most {}"),
    ):
        if key in schema:
            found.append(words.format(schema[key]))
    if "pattern" in schema:
        found.append(f"matches <code>{escape(schema['pattern'])}</code>")
    if schema.get("additionalProperties") is False:
        found.append("no other fields")
    return "; ".join(found)


def example_block(value: Any, label: str = "Example") -> str:
    shown = escape(json.dumps(value, indent=2, ensure_ascii=False))
    # A long example scrolls sideways: focusable, so a keyboard can scroll it too (WCAG 2.1.1).
    return (
        f'<figure class="example"><figcaption>{escape(label)}</figcaption>'
        f'<pre tabindex="0"><code>{shown}</code></pre></figure>'
    )


def content_examples(content: dict[str, Any]) -> list[tuple[str, Any]]:
    media = content.get("application/json") or {}
    examples = [(name, ex.get("value")) for name, ex in (media.get("examples") or {}).items()]
    if "example" in media:
        examples.append(("example", media["example"]))
    return examples


def parameters_table(parameters: list[dict[str, Any]]) -> str:
    if not parameters:
        return ""
    rows = []
    for parameter in parameters:
        schema = parameter.get("schema", {})
        required = "required" if parameter.get("required") else "optional"
        notes = " ".join(filter(None, [constraints(schema), text(parameter.get("description"))]))
        rows.append(
            f"<tr><td><code>{escape(parameter['name'])}</code></td>"
            f"<td>{escape(parameter['in'])}</td><td>{required}</td>"
            f"<td>{type_of(schema)}</td><td>{notes}</td></tr>"
        )
    return (
        '<table class="fields"><caption>Parameters</caption><thead><tr><th scope="col">Name</th>'
        '<th scope="col">In</th><th scope="col">Required</th><th scope="col">Type</th>'
        '<th scope="col">Notes</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
    )


def responses_list(responses: dict[str, Any]) -> str:
    items = []
    for status, response in responses.items():
        content = response.get("content") or {}
        media = content.get("application/json") or {}
        body = f" Body: {type_of(media['schema'])}." if "schema" in media else ""
        headers = "".join(
            f"<li>Header <code>{escape(name)}</code>: {text(header.get('description'))}</li>"
            for name, header in (response.get("headers") or {}).items()
        )
        examples = "".join(
            example_block(value, f"{status} {name}") for name, value in content_examples(content)
        )
        items.append(
            f'<li class="response"><span class="status status-{escape(status[0])}">'
            f"{escape(status)}</span> {text(response.get('description'))}"
            f"<p>{body.strip()}</p>{'<ul>' + headers + '</ul>' if headers else ''}{examples}</li>"
        )
    return f'<h4>Responses</h4><ul class="responses">{"".join(items)}</ul>'


def operation_html(path: str, method: str, operation: dict[str, Any], shared: list[Any]) -> str:
    op_id = operation["operationId"]
    parameters = shared + operation.get("parameters", [])
    body = ""
    if "requestBody" in operation:
        request = operation["requestBody"]
        media = request["content"]["application/json"]
        examples = "".join(
            example_block(value, f"Request {name}")
            for name, value in content_examples(request["content"])
        )
        required = "required" if request.get("required") else "optional"
        body = (
            f"<h4>Request body</h4><p>JSON, {required}: {type_of(media['schema'])}.</p>{examples}"
        )
    security = operation.get("security")
    auth = (
        '<p class="auth">No authentication.</p>'
        if security == []
        else '<p class="auth">Needs your API key in <code>x-api-key</code>.</p>'
    )
    return (
        f'<section class="operation" id="op-{escape(op_id)}" data-operation-id="{escape(op_id)}">'
        f'<h3><span class="method method-{method}">{method.upper()}</span> '
        f'<code class="path">{escape(path)}</code></h3>'
        f'<p class="summary">{escape(operation.get("summary", ""))}</p>'
        f"{text(operation.get('description'))}{auth}{parameters_table(parameters)}{body}"
        f"{responses_list(operation['responses'])}</section>"
    )


def schema_html(name: str, schema: dict[str, Any]) -> str:
    rows = []
    required = set(schema.get("required", []))
    for field, sub in (schema.get("properties") or {}).items():
        notes = " ".join(filter(None, [constraints(sub), text(sub.get("description"))]))
        rows.append(
            f"<tr><td><code>{escape(field)}</code></td>"
            f"<td>{'required' if field in required else 'optional'}</td>"
            f"<td>{type_of(sub)}</td><td>{notes}</td></tr>"
        )
    table = (
        (
            f'<table class="fields"><caption>{escape(name)} fields</caption><thead><tr>'
            '<th scope="col">Field</th><th scope="col">Required</th><th scope="col">Type</th>'
            '<th scope="col">Notes</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>"
        )
        if rows
        else f"<p>{type_of(schema)}. {constraints(schema)}</p>"
    )
    examples = "".join(example_block(value) for value in schema.get("examples", []))
    return (
        f'<section class="schema" id="schema-{escape(name)}"><h3>{escape(name)}</h3>'
        f"{text(schema.get('description'))}{table}{examples}</section>"
    )


def render(doc: dict[str, Any]) -> str:
    info = doc["info"]
    groups: dict[str, list[str]] = {tag["name"]: [] for tag in doc.get("tags", [])}
    toc: dict[str, list[str]] = {name: [] for name in groups}
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                operation = item[method]
                tag = (operation.get("tags") or ["Other"])[0]
                groups.setdefault(tag, []).append(
                    operation_html(path, method, operation, item.get("parameters", []))
                )
                toc.setdefault(tag, []).append(
                    f'<li><a href="#op-{escape(operation["operationId"])}">'
                    f"{method.upper()} {escape(path)}</a></li>"
                )
    webhooks = []
    for name, item in (doc.get("webhooks") or {}).items():
        for method in METHODS:
            if method in item:
                webhooks.append(operation_html(f"your URL ({name})", method, item[method], []))
    scheme = next(iter(doc["components"]["securitySchemes"].values()))
    servers = "".join(
        f"<li><code>{escape(s['url'])}</code>: {escape(s.get('description', ''))}</li>"
        for s in doc.get("servers", [])
    )
    sections = "".join(
        f'<section class="group" aria-labelledby="group-{i}"><h2 id="group-{i}">{escape(tag)}</h2>'
        + "".join(parts)
        + "</section>"
        for i, (tag, parts) in enumerate(groups.items())
        if parts
    )
    nav = "".join(
        f"<li>{escape(tag)}<ul>{''.join(links)}</ul></li>" for tag, links in toc.items() if links
    )
    schemas = "".join(schema_html(n, s) for n, s in doc["components"]["schemas"].items())
    return f"""<!doctype html>
<!-- Generated by tools/render_openapi.py from {REPOSITORY_DOCUMENT}: do not edit. -->
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>{escape(info["title"])} reference</title>
    <link rel="icon" href="../../favicon.svg" type="image/svg+xml" />
    <link rel="stylesheet" href="reference.css" />
  </head>
  <body>
    <a class="skip-link" href="#main">Skip to content</a>
    <nav class="toc" aria-label="Operations"><p class="toc-title">Operations</p><ul>{nav}</ul>
    <p><a href="#schemas">Schemas</a> · <a href="#webhook-events">Webhook events</a></p></nav>
    <main id="main">
      <h1>{escape(info["title"])} <span class="version">{escape(info["version"])}</span></h1>
      {text(info.get("description"))}
      <section aria-labelledby="auth"><h2 id="auth">Authentication</h2>
      <p>Header <code>{escape(scheme["name"])}</code> on every request.</p>
      {text(scheme.get("description"))}
      <p>The OpenAPI {escape(doc["openapi"])} document this page is made from is served at
      <code>GET /v1/openapi.json</code> (with your key) and kept in the repository as
      <code>{REPOSITORY_DOCUMENT}</code>.</p></section>
      <section aria-labelledby="servers"><h2 id="servers">Servers</h2><ul>{servers}</ul></section>
      {sections}
      <section class="group" aria-labelledby="webhook-events">
      <h2 id="webhook-events">Webhook events we send</h2>
      {"".join(webhooks)}</section>
      <section class="group" aria-labelledby="schemas"><h2 id="schemas">Schemas</h2>
      {schemas}</section>
    </main>
  </body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is stale")
    args = parser.parse_args(argv)
    page = render(json.loads(DOCUMENT.read_text(encoding="utf-8")))
    if args.check:
        current = PAGE.exists() and PAGE.read_text(encoding="utf-8") == page
        if not current:
            print(f"{PAGE.relative_to(ROOT)} is stale: run python tools/render_openapi.py")
        return 0 if current else 1
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page, encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
