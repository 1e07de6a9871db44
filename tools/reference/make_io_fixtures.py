#!/usr/bin/python3
"""Write the io test fixtures (zip, npy, npz, safetensors) with Python's own
writers (zipfile, numpy, safetensors), so the C++ readers are checked against
independent implementations. Usage: make_io_fixtures.py OUT_DIR

Values are simple formulas the C++ tests recompute (arange-based), never copied
from our own output. Prints "ok" and exits 0; exits 3 when numpy is missing.
"""
import io
import json
import os
import struct
import sys
import zipfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def path(name):
    return os.path.join(out, name)


# ---- zip: written by Python's zipfile -----------------------------------------
payload_text = b"".join(b"line %d of the zip fixture\n" % i for i in range(200))
payload_bin = bytes((i * 7 + 3) & 0xFF for i in range(5000))
with zipfile.ZipFile(path("plain.zip"), "w") as z:
    z.writestr(zipfile.ZipInfo("stored.txt"), payload_text, compress_type=zipfile.ZIP_STORED)
    z.writestr("deflated.bin", payload_bin, compress_type=zipfile.ZIP_DEFLATED)
    z.writestr("dir/empty", b"", compress_type=zipfile.ZIP_STORED)
    z.comment = b"a comment at the end of the archive"
with zipfile.ZipFile(path("zip64.zip"), "w") as z:
    with z.open("stored.txt", "w", force_zip64=True) as f:
        f.write(payload_text)
    zi = zipfile.ZipInfo("deflated.bin")
    zi.compress_type = zipfile.ZIP_DEFLATED
    with z.open(zi, "w", force_zip64=True) as f:
        f.write(payload_bin)

# ---- a PyTorch zip checkpoint: local headers padded so data is 64-byte aligned --------
try:
    import torch

    torch.save(
        {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "i": torch.tensor([1, 2, 3])},
        path("torch_small.pt"),
    )
except ImportError:
    print("torch missing: torch_small.pt not written")

try:
    import numpy as np
except ImportError:
    print("numpy missing")
    sys.exit(3)

# ---- npy: numpy's writer, many dtypes and layouts -------------------------------
base = np.arange(24).reshape(2, 3, 4)
np.save(path("f4.npy"), (base * 0.5).astype("<f4"))
np.save(path("f8.npy"), (base * 0.25 - 1).astype("<f8"))
np.save(path("f2.npy"), (base * 0.5).astype("<f2"))
np.save(path("i1.npy"), (base - 12).astype("|i1"))
np.save(path("u1.npy"), (base * 10).astype("|u1"))
np.save(path("i2.npy"), (base * 1000 - 12000).astype("<i2"))
np.save(path("u2.npy"), (base * 2000).astype("<u2"))
np.save(path("i4.npy"), (base * 100000 - 1).astype("<i4"))
np.save(path("u4.npy"), (base * 100000).astype("<u4"))
np.save(path("i8.npy"), (base * (1 << 40) - 5).astype("<i8"))
np.save(path("u8.npy"), (base * (1 << 40)).astype("<u8"))
np.save(path("b1.npy"), (base % 3 == 0))
np.save(path("be_f4.npy"), (base * 0.5).astype(">f4"))
np.save(path("be_i8.npy"), (base * (1 << 40) - 5).astype(">i8"))
np.save(path("be_f8.npy"), (base * 0.25 - 1).astype(">f8"))
np.save(path("fortran_f4.npy"), np.asfortranarray((base * 0.5).astype("<f4")))
np.save(path("fortran_be_i2.npy"), np.asfortranarray((base * 1000 - 12000).astype(">i2")))
np.save(path("scalar_f8.npy"), np.array(3.5))
np.save(path("vector_i4.npy"), np.arange(7, dtype="<i4"))
np.save(path("empty_f4.npy"), np.zeros((0, 3), dtype="<f4"))
np.save(path("strings_S.npy"), np.array([b"hip", b"rknee", b"", b"sixteen-chars-xx"], dtype="S16"))
np.save(path("strings_U.npy"), np.array(["walk", "caf\u00e9", "\u4e2d\u6587", ""], dtype="<U10"))
np.save(path("strings_U_be.npy"), np.array(["walk", "caf\u00e9"], dtype=">U6"))
with open(path("v2_f4.npy"), "wb") as f:
    np.lib.format.write_array(f, (base * 0.5).astype("<f4"), version=(2, 0))
with open(path("v3_f4.npy"), "wb") as f:
    np.lib.format.write_array(f, (base * 0.5).astype("<f4"), version=(3, 0))
np.save(path("object.npy"), np.array([1, "a", None], dtype=object), allow_pickle=True)
np.save(path("structured.npy"), np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))

# ---- npz: np.savez (stored) and np.savez_compressed (deflate) --------------------
arrays = dict(
    pose=(base * 0.5).astype("<f4"),
    counts=(base * 1000 - 12000).astype("<i2"),
    names=np.array([b"hip", b"rknee", b"rfoot"], dtype="S8"),
    scalar=np.array(7, dtype="<i8"),
)
np.savez(path("stored.npz"), **arrays)
np.savez_compressed(path("compressed.npz"), **arrays)

# ---- safetensors ------------------------------------------------------------------
tensors = dict(
    weight=(base * 0.5).astype("<f4"),
    bias=np.arange(5, dtype="<f8") - 2,
    half=(base * 0.5).astype("<f2"),
    ids=(np.arange(6, dtype="<i8") * (1 << 33)).reshape(2, 3),
    mask=np.array([True, False, True]),
    small=np.arange(4, dtype="|i1") - 2,
    empty=np.zeros((0, 2), dtype="<f4"),
)
meta = {"format": "pt", "note": "io fixture"}
try:
    from safetensors.numpy import save_file

    save_file(tensors, path("python.safetensors"), metadata=meta)
    print("safetensors: package")
except ImportError:
    # Hand-written per the spec (header JSON, 8-byte LE length, data sorted by offset).
    codes = {"<f4": "F32", "<f8": "F64", "<f2": "F16", "<i8": "I64", "|b1": "BOOL", "|i1": "I8"}
    header = {"__metadata__": meta}
    blob = b""
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k])
        b = a.tobytes()
        header[k] = {"dtype": codes[a.dtype.str], "shape": list(a.shape), "data_offsets": [len(blob), len(blob) + len(b)]}
        blob += b
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path("python.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)
    print("safetensors: hand-written per spec")

print("ok")
