"""wrk with a Lua script that asks for random 64 KiB ranges of one file, and the parser of
its `--latency` report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SPAN = 64 * 1024

SCRIPT = """-- random {span}-byte ranges of a {size}-byte file; counts answers that are not ranges
local size, span, path = {size}, {span}, "{path}"
local threads, counter = {{}}, 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(id * 7919)
  bad = 0
end
function request()
  local first = math.random(0, size - span)
  return wrk.format("GET", path, {{["Range"] = "bytes=" .. first .. "-" .. (first + span - 1)}})
end
function response(status, headers, body)
  if status ~= 206 and not (status == 200 and headers["Content-Range"]) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("bad_answers %d\\n", total))
end
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass(frozen=True, slots=True)
class WrkReport:
    requests_per_s: float
    p99_ms: float
    p50_ms: float
    requests: int
    socket_errors: int
    non_2xx: int
    bad_answers: int


def write_script(folder: Path, path: str, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"ranges-{abs(hash(path)) % 10**8}.lua"
    script.write_text(SCRIPT.format(span=SPAN, size=size, path=path))
    return script


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def parse(output: str) -> WrkReport:
    def grab(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            if default is None:
                raise ValueError(f"wrk output lacks {pattern!r}:\n{output[-1500:]}")
            return default
        return match.group(1)

    socket = grab(r"Socket errors: (.*)$", "")
    return WrkReport(
        requests_per_s=float(grab(r"^Requests/sec:\s+([\d.]+)")),
        p99_ms=_ms(grab(r"^\s+99%\s+(\S+)")),
        p50_ms=_ms(grab(r"^\s+50%\s+(\S+)")),
        requests=int(grab(r"^\s+(\d+) requests in")),
        socket_errors=sum(int(n) for n in re.findall(r"\d+", socket)),
        non_2xx=int(grab(r"Non-2xx or 3xx responses: (\d+)", "0")),
        bad_answers=int(grab(r"^bad_answers (\d+)")),
    )
