#!/usr/bin/env python3
"""Writes tests/fixtures/legacy_hashes.tsv: one hash per line (format, password, hash), each
made by a reference implementation, not by the crates Enroll verifies with:
argon2-cffi (the reference C argon2), pyca bcrypt (OpenBSD's), Python's hashlib (OpenSSL's
scrypt and PBKDF2), and `openssl passwd` (sha-crypt). Needs `pip install bcrypt argon2-cffi`."""
import base64, hashlib, os, subprocess, sys

PASSWORD = "Legacy-pass 42!"

def b64(b):
    return base64.b64encode(b).decode().rstrip("=")

def argon2(kind):
    from argon2 import PasswordHasher, Type
    t = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}[kind]
    return PasswordHasher(time_cost=2, memory_cost=256, parallelism=1, type=t).hash(PASSWORD)

def bcrypt_(prefix):
    import bcrypt
    h = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5, prefix=b"2b")).decode()
    return "$" + prefix + h[3:]  # $2a$/$2y$ differ only in the tag for passwords like this one

def scrypt():
    salt = os.urandom(16)
    ln, r, p = 10, 8, 1
    h = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=1 << ln, r=r, p=p, dklen=32)
    return f"$scrypt$ln={ln},r={r},p={p}${b64(salt)}${b64(h)}"

def pbkdf2(name, alg, n):
    salt = os.urandom(16)
    h = hashlib.pbkdf2_hmac(alg, PASSWORD.encode(), salt, 1000, n)
    return f"${name}$i=1000,l={n}${b64(salt)}${b64(h)}"

def shacrypt(flag):
    salt = base64.b64encode(os.urandom(12)).decode().replace("+", ".")[:16]
    cmd = ["openssl", "passwd", flag, "-salt", salt, PASSWORD]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()

rows = [
    ("argon2id", argon2("argon2id")),
    ("argon2i", argon2("argon2i")),
    ("argon2d", argon2("argon2d")),
    ("bcrypt-2a", bcrypt_("2a")),
    ("bcrypt-2b", bcrypt_("2b")),
    ("bcrypt-2y", bcrypt_("2y")),
    ("scrypt", scrypt()),
    ("pbkdf2-sha256", pbkdf2("pbkdf2-sha256", "sha256", 32)),
    ("pbkdf2-sha512", pbkdf2("pbkdf2-sha512", "sha512", 64)),
    ("pbkdf2-sha1", pbkdf2("pbkdf2", "sha1", 20)),
    ("sha512-crypt", shacrypt("-6")),
    ("sha256-crypt", shacrypt("-5")),
]
out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/legacy_hashes.tsv"
with open(out, "w") as f:
    f.write(f"# made by tools/legacy-hashes/make.py; every hash is of the password {PASSWORD!r}\n")
    for name, h in rows:
        f.write(f"{name}\t{h}\n")
