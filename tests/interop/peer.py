#!/usr/bin/env python3
"""An independent ActivityPub peer, written from the specifications (draft-cavage HTTP
signatures, WebFinger, ActivityPub) with Python's standard library and `cryptography`.
It shares no code with Understory. It checks, against a running Understory instance:

  WebFinger -> signed GET of the actor -> signed Follow -> signed Accept received and verified
  -> signed Create, Update and Delete of an update received and verified -> Update of the actor
  -> an avatar and a photo (with alt text, size and blurhash; decoded with Pillow, no EXIF left)
  and refusals of unsigned, tampered, replayed and post-dated requests.

Usage: peer.py UNDERSTORY_BASE_URL HANDLE CLI...   (CLI: the command that runs `understory`)
Prints one line per check and exits non-zero on the first failure.
"""

import base64
import email.utils
import hashlib
import http.server
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from PIL import Image

BASE, HANDLE, CLI = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3:]
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
INBOX = queue.Queue()
CHECKS = 0


def check(cond, what):
    global CHECKS
    if not cond:
        print(f"FAIL: {what}", flush=True)
        sys.exit(1)
    CHECKS += 1
    print(f"ok   {what}", flush=True)


class Peer(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def actor(self):
        me = f"{ORIGIN}/users/alice"
        return {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "id": me, "type": "Person", "preferredUsername": "alice", "name": "Alice (peer)",
                "inbox": f"{me}/inbox", "outbox": f"{me}/outbox", "followers": f"{me}/followers",
                "publicKey": {"id": f"{me}#main-key", "owner": me, "publicKeyPem": PUBLIC_PEM}}

    def do_GET(self):
        if self.path.startswith("/users/alice"):
            body = json.dumps(self.actor()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/activity+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        INBOX.put((self.command, self.path, dict(self.headers.items()), body))
        self.send_response(202)
        self.end_headers()


SERVER = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Peer)
ORIGIN = f"http://localhost:{SERVER.server_address[1]}"
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
ME = f"{ORIGIN}/users/alice"


def sign(method, url, headers, names):
    parsed = urllib.parse.urlsplit(url)
    target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {method.lower()} {target}")
        else:
            lines.append(f"{name}: {headers[name]}")
    sig = KEY.sign("\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
    headers["signature"] = (f'keyId="{ME}#main-key",algorithm="hs2019",headers="{" ".join(names)}",'
                            f'signature="{base64.b64encode(sig).decode()}"')
    return headers


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def signed_get(url):
    host = urllib.parse.urlsplit(url).netloc
    h = {"host": host, "date": email.utils.formatdate(usegmt=True), "accept": "application/activity+json"}
    return request("GET", url, headers=sign("GET", url, h, ["(request-target)", "host", "date", "accept"]))


def signed_post(url, activity, date=None, tamper=False, signed=True):
    body = json.dumps(activity).encode()
    host = urllib.parse.urlsplit(url).netloc
    h = {"host": host, "date": date or email.utils.formatdate(usegmt=True),
         "digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
         "content-type": "application/activity+json"}
    if signed:
        h = sign("POST", url, h, ["(request-target)", "host", "date", "digest", "content-type"])
    if tamper:
        body = body.replace(b"Follow", b"Fullow")
    return request("POST", url, body, h)[0]


KEYS = {}


def verify(method, path, headers, body):
    """Verifies a request Understory sent us, fetching its key from the actor document."""
    h = {k.lower(): v for k, v in headers.items()}
    params = dict(p.split("=", 1) for p in h["signature"].split(","))
    params = {k: v.strip('"') for k, v in params.items()}
    names = params["headers"].split()
    for required in ["(request-target)", "host", "date", "digest"]:
        if required not in names:
            return f"signature does not cover {required}"
    expected = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    if h.get("digest") != expected:
        return "digest mismatch"
    key_id = params["keyId"]
    if key_id not in KEYS:
        status, _, doc = signed_get(key_id.split("#")[0])
        actor = json.loads(doc)
        if actor["publicKey"]["id"] != key_id:
            return "key id is not the actor's key"
        KEYS[key_id] = serialization.load_pem_public_key(actor["publicKey"]["publicKeyPem"].encode())
    lines = []
    for name in names:
        lines.append(f"(request-target): {method.lower()} {path}" if name == "(request-target)" else f"{name}: {h[name]}")
    try:
        KEYS[key_id].verify(base64.b64decode(params["signature"]), "\n".join(lines).encode(),
                            padding.PKCS1v15(), hashes.SHA256())
    except Exception as e:  # noqa: BLE001 - any failure is a bad signature
        return f"bad signature: {e}"
    return None


def receive(kind, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            method, path, headers, body = INBOX.get(timeout=0.5)
        except queue.Empty:
            continue
        activity = json.loads(body)
        problem = verify(method, path, headers, body)
        check(problem is None, f"{activity['type']} from Understory carries a valid signature ({problem or 'verified'})")
        if activity["type"] == kind:
            return activity
    check(False, f"received {kind} within {timeout}s")


def cli(*args):
    out = subprocess.run(CLI + list(args), capture_output=True, text=True, check=True)
    return out.stdout.strip()


domain = urllib.parse.urlsplit(BASE).netloc
status, headers, body = request("GET", f"{BASE}/.well-known/webfinger?resource=acct:{HANDLE}@{domain}")
jrd = json.loads(body)
check(status == 200 and headers.get("content-type", "").startswith("application/jrd+json"), "WebFinger answers JRD")
actor_url = next(l["href"] for l in jrd["links"] if l["rel"] == "self" and l["type"] == "application/activity+json")
check(jrd["subject"] == f"acct:{HANDLE}@{domain}", "WebFinger subject is the handle, byte for byte")

status, headers, body = signed_get(actor_url)
actor = json.loads(body)
check(status == 200 and headers.get("content-type", "").startswith("application/activity+json"), "signed GET of the actor")
check(actor["type"] == "Organization" and actor["preferredUsername"] == HANDLE, "actor is an Organization with the handle")
check(actor["id"] == actor_url and actor["publicKey"]["owner"] == actor_url, "actor id and key owner match")
check("https://www.w3.org/ns/activitystreams" in actor["@context"], "context contains ActivityStreams")

follow = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{ME}#follows/1", "type": "Follow",
          "actor": ME, "object": actor_url}
check(signed_post(actor["inbox"], follow) == 202, "signed Follow accepted (202)")
accept = receive("Accept")
check(accept["actor"] == actor_url and accept["object"]["id"] == follow["id"], "Accept names our Follow")

check(signed_post(actor["inbox"], follow) == 202, "a replayed Follow is acknowledged")
followers = cli("org", "followers", HANDLE).splitlines()
check(followers == [ME], "and not processed twice (one follower)")

check(signed_post(actor["inbox"], {**follow, "id": f"{ME}#follows/2"}, signed=False) == 401, "unsigned POST refused (401)")
check(signed_post(actor["inbox"], {**follow, "id": f"{ME}#follows/3"}, tamper=True) == 401, "tampered body refused (401)")
future = email.utils.formatdate(time.time() + 7200, usegmt=True)
check(signed_post(actor["inbox"], {**follow, "id": f"{ME}#follows/4"}, date=future) == 401, "post-dated request refused (401)")
past = email.utils.formatdate(time.time() - 7200, usegmt=True)
check(signed_post(actor["inbox"], {**follow, "id": f"{ME}#follows/5"}, date=past) == 401, "stale request refused (401)")

url = cli("org", "post", HANDLE, "Field report on #DigitalInclusion in Leeds", "--lang", "en")
create = receive("Create")
note = create["object"]
check(note["id"] == url and note["type"] == "Note", "Create carries the Note")
check("Field report" in note["content"] and note["contentMap"]["en"] == note["content"], "content and contentMap")
check([t["name"] for t in note["tag"]] == ["#digitalinclusion"], "hashtag parsed")
check("https://www.w3.org/ns/activitystreams#Public" in note["to"], "addressed to Public")

update_id = url.rsplit("/", 1)[1]
cli("org", "edit-post", HANDLE, update_id, "Field report on #DigitalInclusion in Leeds and Bradford")
update = receive("Update")
check("Bradford" in update["object"]["content"] and update["object"]["updated"] >= update["object"]["published"],
      "Update carries the edit with a newer updated")

cli("org", "edit", HANDLE, "--summary", "Now with a new summary")
profile = receive("Update")
check(profile["object"]["id"] == actor_url and "new summary" in profile["object"]["summary"], "Update of the actor")

# Pictures: an avatar and a photo carrying GPS in its EXIF, as a phone would write it.
workdir = tempfile.mkdtemp()
photo = os.path.join(workdir, "field.jpg")
exif = Image.Exif()
exif[0x0112] = 1
exif[0x8825] = {1: "N", 2: (53.0, 28.0, 50.0), 3: "W", 4: (2.0, 14.0, 30.0)}
Image.new("RGB", (900, 600), (40, 120, 90)).save(photo, exif=exif.tobytes())
check(Image.open(photo).getexif().get_ifd(0x8825).get(1) == "N", "the test photo carries GPS before upload")
cli("org", "edit", HANDLE, "--avatar", photo)
with_icon = receive("Update")
icon = with_icon["object"].get("icon") or {}
check(icon.get("type") == "Image" and icon.get("mediaType") == "image/jpeg", "Update of the actor carries an Image icon")
status, headers, body = request("GET", icon["url"])
avatar = Image.open(io.BytesIO(body))
check(status == 200 and avatar.size == (400, 400) and headers.get("content-type") == "image/jpeg",
      f"the avatar is a 400x400 JPEG ({avatar.size})")
alt = "Volunteers loading a van with flood kits"
photo_url = cli("org", "post", HANDLE, "Flood kits out today #Floods", "--attach", photo, "--alt", alt)
with_photo = receive("Create")["object"]
attachment = (with_photo.get("attachment") or [{}])[0]
check(with_photo["id"] == photo_url and attachment.get("type") == "Image" and attachment.get("name") == alt,
      "Create carries the photo with its alt text as name")
check(attachment.get("mediaType") == "image/jpeg" and (attachment.get("width"), attachment.get("height")) == (900, 600)
      and isinstance(attachment.get("blurhash"), str) and len(attachment["blurhash"]) == 28,
      "the attachment has mediaType, width, height and a blurhash")
status, headers, body = request("GET", attachment["url"])
fetched = Image.open(io.BytesIO(body))
check(status == 200 and fetched.size == (900, 600), "the photo is served at its url")
check(b"Exif" not in body and not fetched.getexif(), "the served photo has no EXIF (no GPS)")

cli("org", "delete-post", HANDLE, update_id)
delete = receive("Delete")
check(delete["object"]["id"] == url, "Delete names the update")
status, _, body = signed_get(url)
check(status == 410 and json.loads(body)["type"] == "Tombstone", "deleted update answers 410 with a Tombstone")

undo = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{ME}#undo/1", "type": "Undo", "actor": ME,
        "object": follow}
check(signed_post(actor["inbox"], undo) == 202, "Undo Follow accepted")
check(cli("org", "followers", HANDLE) == "", "follower removed")
print(f"{CHECKS} passed, 0 failed")
