"""The workerd configuration (Cap'n Proto text) that runs one Pages deployment's server half.

Services in the generated config:

- `main`: the uploaded modules (the entry first), the deployment's compatibility date and flags, its
  env vars as text bindings (secrets come `fromEnvironment`, so the file never holds them), the
  `CF_PAGES*` vars, `ASSETS`, and `globalOutbound = egress`.
- `egress`: every outbound `fetch` of the worker. workerd's own network resolves no `*.localhost`
  name and refuses loopback (measured), so `*.localhost` requests, http or https on any port, go to
  the sandbox's plain-HTTP port with their hostname kept as the Host header (the sandbox routes by
  it); that is what lets the unchanged `libsql://<db>-<org>.turso.localhost:<port>` URL work from
  inside the worker. Everything else goes to the internet.
- `assets`: `env.ASSETS.fetch()`; it sends the request to the sandbox under the deployment's own
  assets-only hostname, so static files are served without passing the worker router again (which
  would loop).
- `ping`: a second socket answered by a trivial worker. workerd runs every isolate on one thread, so
  when `ping` does not answer, the user's worker is stuck in a loop and the process is restarted.

`embed` paths are relative to the config file (measured).
"""

from __future__ import annotations

from dataclasses import dataclass

MODULE_KINDS = ("esModule", "commonJsModule", "wasm", "text", "data", "json")
# The date Pages projects get when neither the project nor the bundle names one: the first date on
# which `nodejs_compat` means the full Node.js compatibility layer (v2).
DEFAULT_COMPATIBILITY_DATE = "2024-09-23"
INTERNAL_COMPATIBILITY_DATE = "2024-09-23"
BINDING_ENV_PREFIX = "ONECLICK_BINDING_"

EGRESS_JS = """export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.hostname === "localhost" || url.hostname.endsWith(".localhost")) {
      url.protocol = "http:";
      return env.SANDBOX.fetch(new Request(url, request));
    }
    return fetch(request);
  },
};
"""

ASSETS_JS = """export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    url.protocol = "http:";
    url.hostname = env.ASSETS_HOST;
    url.port = env.SANDBOX_PORT;
    return env.SANDBOX.fetch(new Request(url, request));
  },
};
"""

PING_JS = 'export default { fetch() { return new Response("ok"); } };\n'


@dataclass(frozen=True)
class ModuleFile:
    name: str  # the module path the code imports
    kind: str  # one of MODULE_KINDS
    embed: str  # the file, relative to the config's directory


@dataclass(frozen=True)
class WorkerPlan:
    """Everything one `workerd serve` needs; equal plans mean the same running worker."""

    deployment_id: str
    modules: tuple[ModuleFile, ...]  # the entry module first
    compatibility_date: str
    compatibility_flags: tuple[str, ...]
    text_bindings: tuple[tuple[str, str], ...]
    json_bindings: tuple[tuple[str, str], ...]
    secret_bindings: tuple[tuple[str, str], ...]  # (name, value): handed over in the environment
    sandbox_port: int
    assets_host: str


ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def capnp_text(value: str) -> str:
    """A Cap'n Proto text literal: printable ASCII as is, quotes, backslashes and newlines escaped,
    every other byte of the UTF-8 as `\\xNN`."""
    out = []
    for byte in value.encode("utf-8"):
        char = chr(byte)
        if char in ESCAPES:
            out.append(ESCAPES[char])
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    return '"' + "".join(out) + '"'


def _worker(modules: list[str], bindings: list[str], date: str, flags: tuple[str, ...], outbound: str) -> str:
    parts = [
        f"modules = [{', '.join(modules)}]",
        f"compatibilityDate = {capnp_text(date)}",
    ]
    if flags:
        parts.append(f"compatibilityFlags = [{', '.join(capnp_text(f) for f in flags)}]")
    if bindings:
        parts.append("bindings = [\n      " + ",\n      ".join(bindings) + "\n    ]")
    parts.append(f"globalOutbound = {capnp_text(outbound)}")
    return "(\n    " + ",\n    ".join(parts) + "\n  )"


def _inline(name: str, source: str) -> str:
    return f"(name = {capnp_text(name)}, esModule = {capnp_text(source)})"


def render_config(plan: WorkerPlan) -> tuple[str, dict[str, str]]:
    """The config text, and the environment variables holding the secret bindings' values."""
    modules = [f"(name = {capnp_text(m.name)}, {m.kind} = embed {capnp_text(m.embed)})" for m in plan.modules]
    environment: dict[str, str] = {}
    bindings = [f"(name = {capnp_text(n)}, text = {capnp_text(v)})" for n, v in plan.text_bindings]
    bindings += [f"(name = {capnp_text(n)}, json = {capnp_text(v)})" for n, v in plan.json_bindings]
    for index, (name, value) in enumerate(plan.secret_bindings):
        variable = f"{BINDING_ENV_PREFIX}{index}"
        environment[variable] = value
        bindings.append(f"(name = {capnp_text(name)}, fromEnvironment = {capnp_text(variable)})")
    bindings.append('(name = "ASSETS", service = "assets")')
    sandbox = capnp_text(f"127.0.0.1:{plan.sandbox_port}")
    services = [
        '(name = "main", worker = '
        + _worker(modules, bindings, plan.compatibility_date, plan.compatibility_flags, "egress")
        + ")",
        '(name = "egress", worker = '
        + _worker(
            [_inline("egress.js", EGRESS_JS)],
            ['(name = "SANDBOX", service = "sandbox")'],
            INTERNAL_COMPATIBILITY_DATE,
            (),
            "internet",
        )
        + ")",
        '(name = "assets", worker = '
        + _worker(
            [_inline("assets.js", ASSETS_JS)],
            [
                '(name = "SANDBOX", service = "sandbox")',
                f'(name = "ASSETS_HOST", text = {capnp_text(plan.assets_host)})',
                f'(name = "SANDBOX_PORT", text = {capnp_text(str(plan.sandbox_port))})',
            ],
            INTERNAL_COMPATIBILITY_DATE,
            (),
            "sandbox",
        )
        + ")",
        '(name = "ping", worker = '
        + _worker([_inline("ping.js", PING_JS)], [], INTERNAL_COMPATIBILITY_DATE, (), "sandbox")
        + ")",
        f'(name = "sandbox", external = (address = {sandbox}, http = (style = host)))',
        '(name = "internet", network = (allow = ["public"], tlsOptions = (trustBrowserCas = true)))',
    ]
    sockets = [
        # The sandbox serves sites on its TLS port too: the proxy says which, and `request.url` follows.
        '(name = "http", address = "127.0.0.1:0", http = (forwardedProtoHeader = "x-forwarded-proto"), '
        'service = "main")',
        '(name = "ping", address = "127.0.0.1:0", http = (), service = "ping")',
    ]
    text = (
        f"# Generated by the oneclick sandbox for Pages deployment {plan.deployment_id}; do not edit.\n"
        'using Workerd = import "/workerd/workerd.capnp";\n\n'
        "const config :Workerd.Config = (\n"
        "  services = [\n  " + ",\n  ".join(services) + "\n  ],\n"
        "  sockets = [\n    " + ",\n    ".join(sockets) + "\n  ]\n"
        ");\n"
    )
    return text, environment
