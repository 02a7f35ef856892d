#!/usr/bin/env python3
"""Checks deploy/Dockerfile for what operators rely on (docs/operations.md, "Container"): base images
pinned by version, a locked build, a non-root user, the data volume and a health check, and a Rust
image at least as new as the workspace's rust-version. No Docker engine is needed."""
import re
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
text = (root / "deploy" / "Dockerfile").read_text()
problems = []

images = re.findall(r"^FROM\s+(\S+)", text, re.M)
if not images:
    problems.append("no FROM line")
for image in images:
    tag = image.split(":", 1)[1] if ":" in image else ""
    if "@sha256:" not in image and not re.match(r"^\d+(\.\d+)+", tag):
        problems.append(f"base image {image} is not pinned to a version (e.g. debian:12.11-slim)")

builds = re.findall(r"cargo build[^\n&]*", text)
if not builds or not all("--locked" in b for b in builds):
    problems.append("cargo build must use --locked")

users = re.findall(r"^USER\s+(\S+)", text, re.M)
if not users or users[-1].split(":")[0] in ("root", "0"):
    problems.append("the image must end with a non-root USER")
if not re.search(r"^VOLUME\s", text, re.M):
    problems.append("no VOLUME for the data directory")
if not re.search(r"^HEALTHCHECK\s", text, re.M):
    problems.append("no HEALTHCHECK")

rust = re.search(r"^FROM\s+rust:(\d+)\.(\d+)", text, re.M)
cargo = (root / "Cargo.toml").read_text()
msrv = re.search(r'^rust-version\s*=\s*"(\d+)\.(\d+)', cargo, re.M)
if rust and msrv and tuple(map(int, rust.groups())) < tuple(map(int, msrv.groups())):
    problems.append(f"rust image {rust.group(1)}.{rust.group(2)} is older than rust-version {msrv.group(1)}.{msrv.group(2)}")

if problems:
    print("deploy/Dockerfile:", *problems, sep="\n  ")
    sys.exit(1)
print("deploy/Dockerfile: pinned, locked, non-root, volume and health check present")
