#!/usr/bin/env python3
"""A small, real Docker volume plugin for the test cluster: each volume is a tmpfs mounted at
<root>/<name> while any mount ID holds it (Docker's volume plugin protocol over a unix socket).

    tmpfs-plugin.py SOCKET ROOT

It keeps its volumes in memory (a restart forgets them) and a volume's data lives only while
it is mounted: it is a test helper that mounts for real, not a storage product. Scenarios make
it hang with SIGSTOP (connections are still accepted by the kernel, nothing answers) and answer
again with SIGCONT.
"""
import json
import os
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler

SOCKET, ROOT = sys.argv[1], sys.argv[2]
volumes = {}  # name -> set of mount IDs holding it
lock = threading.Lock()


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def mountpoint(name):
    return os.path.join(ROOT, name)


def create(req):
    volumes.setdefault(req["Name"], set())
    return {}


def get(req):
    name = req["Name"]
    if name not in volumes:
        return {"Err": "no such volume: " + name}
    return {"Volume": {"Name": name, "Mountpoint": mountpoint(name)}}


def list_(req):
    return {"Volumes": [{"Name": n, "Mountpoint": mountpoint(n)} for n in sorted(volumes)]}


def mount(req):
    name = req["Name"]
    if name not in volumes:
        return {"Err": "no such volume: " + name}
    path = mountpoint(name)
    os.makedirs(path, exist_ok=True)
    if not mounted(path):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", path], check=True)
    volumes[name].add(req.get("ID", ""))
    return {"Mountpoint": path}


def unmount(req):
    name = req["Name"]
    if name not in volumes:
        return {"Err": "no such volume: " + name}
    volumes[name].discard(req.get("ID", ""))
    path = mountpoint(name)
    if not volumes[name] and mounted(path):
        subprocess.run(["umount", path], check=True)
    return {}


def path(req):
    name = req["Name"]
    if name not in volumes:
        return {"Err": "no such volume: " + name}
    return {"Mountpoint": mountpoint(name) if mounted(mountpoint(name)) else ""}


def remove(req):
    name = req["Name"]
    if volumes.get(name):
        return {"Err": "volume in use: " + name}
    volumes.pop(name, None)
    return {}


CALLS = {
    "/Plugin.Activate": lambda req: {"Implements": ["VolumeDriver"]},
    "/VolumeDriver.Capabilities": lambda req: {"Capabilities": {"Scope": "local"}},
    "/VolumeDriver.Create": create,
    "/VolumeDriver.Get": get,
    "/VolumeDriver.List": list_,
    "/VolumeDriver.Mount": mount,
    "/VolumeDriver.Unmount": unmount,
    "/VolumeDriver.Path": path,
    "/VolumeDriver.Remove": remove,
}


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        call = CALLS.get(self.path)
        if call is None:
            self.send_response(404)
            self.end_headers()
            return
        try:
            with lock:
                answer = call(json.loads(body) if body.strip() else {})
        except Exception as e:  # the protocol's error answer, not a crash of the plugin
            answer = {"Err": "%s: %s" % (type(e).__name__, e)}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def address_string(self):
        return "unix"

    def log_message(self, fmt, *args):
        sys.stderr.write("tmpfs-plugin: %s\n" % (fmt % args))
        sys.stderr.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    Server(SOCKET, Handler).serve_forever()
