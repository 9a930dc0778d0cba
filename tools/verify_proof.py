#!/usr/bin/env python3
"""Independent verifier for NEDB proof files (spec/PROOFS.md), written from the spec alone.

Usage: verify_proof.py PROOF --pubkey KEY [--json]

Uses only the Python standard library (hashlib for BLAKE2b/SHA-256/SHA-512; Ed25519 and RFC 8785
are implemented below). Encrypted records additionally need the `cryptography` package for
AES-256-GCM. Exit status: 0 the proof verifies, 1 it does not, 2 usage error.
"""
import base64
import hashlib
import json
import math
import os
import struct
import sys

# --------------------------------------------------------------------------- hashing

def make_hash(name):
    if name == "blake2b-256":
        return lambda data: hashlib.blake2b(data, digest_size=32).digest()
    if name == "sha-256":
        return lambda data: hashlib.sha256(data).digest()
    raise ProofError("unknown hash algorithm %r" % name)


class ProofError(Exception):
    pass

# --------------------------------------------------------------------------- Ed25519 (RFC 8032)

P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


_BY = 4 * pow(5, P - 2, P) % P
_BX = _recover_x(_BY, 0)
BASE = (_BX, _BY, 1, _BX * _BY % P)  # extended coordinates (X, Y, Z, T)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _equal(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % P == 0 and (p[1] * q[2] - q[1] * p[2]) % P == 0


def _decode_point(b):
    if len(b) != 32:
        return None
    y = int.from_bytes(b, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ed25519_verify(public, message, signature):
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public)
    r = _decode_point(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))

# --------------------------------------------------------------------------- RFC 8785 (JCS)

def _es_number(v):
    if isinstance(v, bool) or not math.isfinite(v):
        raise ProofError("not a finite number")
    if v == 0:
        return "0"
    text = repr(abs(float(v)))          # shortest round-trip digits
    exponent = 0
    if "e" in text:
        text, e = text.split("e")
        exponent = int(e)
    if "." in text:
        point = text.index(".")
        digits = text.replace(".", "")
    else:
        point, digits = len(text), text
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k, n = len(digits), point + exponent
    sign = "-" if v < 0 else ""
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return sign + mantissa + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _es_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _es_number(float(value))
    if isinstance(value, str):
        return _es_string(value)
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(_es_string(k) + ":" + jcs(value[k]) for k in keys) + "}"
    raise ProofError("unsupported JSON value")


def parse_json_strict(text):
    def pairs(items):
        seen = {}
        for k, v in items:
            if k in seen:
                raise ProofError("duplicate key %r" % k)
            seen[k] = v
        return seen
    return json.loads(text, object_pairs_hook=pairs, parse_constant=lambda c: (_ for _ in ()).throw(ProofError(c)))

# --------------------------------------------------------------------------- records (FORMAT §3)

TEXT = {0x01: "collection", 0x02: "id", 0x07: "evidence", 0x09: "client", 0x0B: "idempotency_key",
        0x0C: "relation", 0x0D: "target_collection", 0x0E: "target_id", 0x0F: "index_field", 0x22: "origin", 0x29: "note"}


def _uvarint(b, i):
    shift, value, start = 0, 0, i
    while True:
        if i >= len(b):
            raise ProofError("truncated varint")
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte & 0x80 == 0:
            if byte == 0 and i - start > 1:
                raise ProofError("non-minimal varint")
            return value, i
        shift += 7
        if shift > 63:
            raise ProofError("varint too long")


def decode_fields(body, start):
    fields, i, last = {}, start, -1
    while i < len(body):
        tag = body[i]
        length, i = _uvarint(body, i + 1)
        if i + length > len(body):
            raise ProofError("field overruns the record")
        if tag <= last:
            raise ProofError("field tags must ascend")
        last = tag
        fields[tag] = body[i:i + length]
        i += length
        if tag < 0x80 and tag not in KNOWN_TAGS:
            raise ProofError("unknown critical field 0x%02x" % tag)
    return fields


KNOWN_TAGS = set(range(0x01, 0x15)) | set(range(0x20, 0x2A))


def decode_record(data):
    """data = type ‖ body. Returns (type, seq, time, fields)."""
    if len(data) < 17:
        raise ProofError("record too short")
    rtype = data[0]
    seq, time = struct.unpack_from("<Qq", data, 1)
    return rtype, seq, time, decode_fields(data, 17)


def record_key(fields):
    if 0x01 in fields and 0x02 in fields:
        return fields[0x01].decode("utf-8") + ":" + fields[0x02].decode("utf-8")
    return None


def open_sealed(store_id, rtype, seq, time, fields, key):
    commit = hashlib.blake2b(b"NEDB-v1-key-commitment" + key, digest_size=32).digest()
    if commit != fields.get(0x14):
        raise ProofError("the disclosed key does not match the record's key commitment")
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise ProofError("encrypted record: install the 'cryptography' package to check it")
    sealed = fields[0x13]
    key_id = struct.unpack("<I", fields[0x12])[0]
    aad = b"NEDB-v1-record" + store_id + bytes([rtype]) + struct.pack("<Qq", seq, time) + struct.pack("<I", key_id)
    try:
        inner = AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)
    except Exception:
        raise ProofError("AES-256-GCM authentication failed")
    opened = {k: v for k, v in fields.items() if k in (0x11, 0x12)}
    opened.update(decode_fields(inner, 0))
    return opened

# --------------------------------------------------------------------------- Merkle (RFC 9162 §2.1)

def node(h, left, right):
    return h(b"\x01" + left + right)


def verify_inclusion(h, leaf_hash, index, size, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(h, p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(h, r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(h, first, second, first_hash, second_hash, proof):
    if first < 1 or first > second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(h, c, fr)
            sr = node(h, c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node(h, sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0

# --------------------------------------------------------------------------- signed notes (FORMAT §11)

def parse_verifier_key(text):
    name, key_hash, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise ProofError("not an Ed25519 verifier key")
    public = raw[1:]
    key_id = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
    if key_id.hex() != key_hash.lower():
        raise ProofError("verifier key hash does not match")
    return name, key_id, public


def check_note(note, key):
    name, key_id, public = key
    split = note.rfind("\n\n")
    if split < 0:
        raise ProofError("checkpoint has no signatures")
    text = note[:split + 1]
    signed = False
    seen = set()
    for line in note[split + 2:].split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise ProofError("malformed signature line")
        sig_name, b64 = line[2:].split(" ")
        raw = base64.b64decode(b64, validate=True)
        if (sig_name, raw[:4]) in seen:
            raise ProofError("two signatures by the same key")
        seen.add((sig_name, raw[:4]))
        if sig_name == name and raw[:4] == key_id and ed25519_verify(public, text.encode(), raw[4:]):
            signed = True
    if not signed:
        raise ProofError("the checkpoint is not signed by %s" % name)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or str(int(lines[1])) != lines[1]:
        raise ProofError("malformed checkpoint")
    root = base64.b64decode(lines[2], validate=True)
    ext = {l.split(" ", 1)[0]: l.split(" ", 1)[1] for l in lines[3:] if " " in l}
    store = ext.get("nedb-store")
    if store is None and lines[0].startswith("nedb/"):
        store = lines[0][5:]
    return {"origin": lines[0], "size": int(lines[1]), "root": root,
            "hash": ext.get("nedb-hash", "blake2b-256"),
            "chain": base64.b64decode(ext["nedb-chain"]) if "nedb-chain" in ext else None,
            "store": bytes.fromhex(store) if store is not None and len(store) == 32 else None}

# --------------------------------------------------------------------------- proofs (PROOFS.md)

def verify(proof_text, key_text):
    key = parse_verifier_key(key_text)
    split = proof_text.find("\n\n")
    if split < 0:
        raise ProofError("no blank line before the checkpoint")
    lines = proof_text[:split].split("\n")
    note = proof_text[split + 2:]
    pos = [0]

    def field(name):
        if pos[0] >= len(lines) or not lines[pos[0]].startswith(name + " "):
            raise ProofError("line %d: expected %r" % (pos[0] + 1, name))
        pos[0] += 1
        return lines[pos[0] - 1][len(name) + 1:]

    def number(name):
        text = field(name)
        if not text.isdigit() or str(int(text)) != text:
            raise ProofError("%s is not a decimal number" % name)
        return int(text)

    if lines[0] != "nedb-proof@v1":
        raise ProofError("not a nedb-proof@v1 file")
    pos[0] = 1
    kind = field("kind")
    store_id = bytes.fromhex(field("store"))
    algorithm = field("hash")
    h = make_hash(algorithm)
    if kind == "record":
        doc = field("doc")
        seq = number("seq")
        as_of = number("as-of")
        leaf = base64.b64decode(field("leaf"), validate=True)
        disclosed = base64.b64decode(field("key"), validate=True) if lines[pos[0]].startswith("key ") else None
        following = []
        while lines[pos[0]].startswith("next "):
            following.append(base64.b64decode(field("next"), validate=True))
    elif kind == "consistency":
        old_note = base64.b64decode(field("old"), validate=True).decode("utf-8")
    else:
        raise ProofError("unknown kind %r" % kind)
    index = number("index")
    path = [base64.b64decode(l, validate=True) for l in lines[pos[0]:]]
    if len(path) > 64 or any(len(p) != 32 for p in path):
        raise ProofError("bad path")
    checkpoint = check_note(note, key)
    if checkpoint["hash"] != algorithm:
        raise ProofError("the checkpoint uses another hash algorithm")
    if checkpoint["store"] is None:
        raise ProofError("the checkpoint names no store: the proof's store id is bound to nothing")
    if checkpoint["store"] != store_id:
        raise ProofError("the proof names another store than the signed checkpoint")

    if kind == "consistency":
        old = check_note(old_note, key)
        if old["store"] != store_id:
            raise ProofError("the older checkpoint names another store")
        if old["origin"] != checkpoint["origin"] or index != old["size"]:
            raise ProofError("checkpoints do not match")
        if not verify_consistency(h, old["size"], checkpoint["size"], old["root"], checkpoint["root"], path):
            raise ProofError("the consistency proof does not verify")
        return {"valid": True, "kind": "consistency", "old_size": old["size"], "new_size": checkpoint["size"]}

    if len(leaf) <= 33:
        raise ProofError("leaf too short")
    rtype, rseq, rtime, fields = decode_record(leaf[32:])
    if rseq != seq:
        raise ProofError("the record is seq %d, the proof says %d" % (rseq, seq))
    if 0x13 in fields:
        if disclosed is None:
            raise ProofError("encrypted record without a key")
        fields = open_sealed(store_id, rtype, rseq, rtime, fields, disclosed)
    if rtype not in (0x02, 0x03) or record_key(fields) != doc:
        raise ProofError("the record is not a version of %s" % doc)
    value = None
    if rtype == 0x02:
        document = fields[0x03].decode("utf-8")
        value = parse_json_strict(document)
        if jcs(value) != document:
            raise ProofError("the document is not canonical JSON")
    chain = h(b"\x00" + leaf)
    position = seq
    last_time = rtime
    for data in following:
        ntype, nseq, ntime, nfields = decode_record(data)
        if nseq != position + 1:
            raise ProofError("following records must be consecutive")
        if ntime < last_time:
            raise ProofError("record %d is earlier than the record before it" % nseq)
        last_time = ntime
        if ntype == 0x7E:
            raise ProofError("record %d is pruned: its chain hash cannot be recomputed" % nseq)
        if 0x13 in nfields:
            raise ProofError("following records are encrypted")
        if ntype in (0x02, 0x03) and record_key(nfields) == doc:
            raise ProofError("record %d changes %s again" % (nseq, doc))
        chain = h(b"\x00" + chain + data)
        position += 1
    if position != as_of or index != as_of:
        raise ProofError("the records shown end at %d, the proof claims %d" % (position, as_of))
    if not verify_inclusion(h, chain, index, checkpoint["size"], path, checkpoint["root"]):
        raise ProofError("the inclusion proof does not lead to the signed root")
    if index == checkpoint["size"] - 1 and checkpoint["chain"] is not None and checkpoint["chain"] != chain:
        raise ProofError("the chain head differs from the checkpoint's")
    return {"valid": True, "kind": "record", "document": doc, "seq": seq, "unchanged_through": as_of,
            "deleted": rtype == 0x03, "value": value, "tree_size": checkpoint["size"]}


def main(argv):
    args = argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) != 3 or args[1] != "--pubkey":
        print("usage: verify_proof.py PROOF --pubkey KEY [--json]", file=sys.stderr)
        return 2
    proof_path, key = args[0], args[2]
    if os.path.exists(key):
        with open(key, encoding="utf-8") as f:
            key = f.read()
    with open(proof_path, encoding="utf-8") as f:
        text = f.read()
    try:
        result = verify(text, key)
    except (ProofError, ValueError, KeyError, IndexError, UnicodeDecodeError, struct.error) as e:
        result = {"valid": False, "reason": str(e) or type(e).__name__}
    if as_json:
        print(json.dumps(result, sort_keys=True, default=str))
    elif result["valid"]:
        print("VALID: " + ", ".join("%s=%s" % (k, json.dumps(v, sort_keys=True)) for k, v in sorted(result.items()) if k != "valid"))
    else:
        print("INVALID: " + result["reason"])
    return 0 if result["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
