#!/usr/bin/env python3
"""Fails when a locked dependency needs a newer Rust than the workspace's declared rust-version."""
import json
import subprocess
import sys
import tomllib

def version(text):
    return tuple(int(part) for part in text.split(".")[:3]) + (0,) * (3 - len(text.split(".")[:3]))

with open("Cargo.toml", "rb") as f:
    declared = tomllib.load(f)["workspace"]["package"]["rust-version"]
metadata = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked"], text=True))
needs = sorted(
    ((version(p["rust_version"]), p["name"], p["version"]) for p in metadata["packages"] if p.get("rust_version")),
    reverse=True,
)
newest = needs[0]
if newest[0] > version(declared):
    print(f"rust-version {declared} is too old: {newest[1]} {newest[2]} needs {'.'.join(map(str, newest[0]))}")
    sys.exit(1)
print(f"rust-version {declared} covers every dependency (newest need: {newest[1]} {newest[2]})")
