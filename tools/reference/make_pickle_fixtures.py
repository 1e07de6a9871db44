#!/usr/bin/python3
"""Fixtures for tests/test_io_pickle.cpp and tests/test_io_torch_checkpoint.cpp.

Run with Debian's python (torch 1.13, numpy):
    /usr/bin/python3 tools/reference/make_pickle_fixtures.py [out_dir]
(default out_dir: tests/fixtures/pickle). Everything is small (< 100 KB).

Values follow formulas the C++ tests recompute (no numbers are copied from our
own output):
  f(n, a, b)  = a * i + b for i in range(n)     ("ramp")
Hostile files are hand-assembled pickles; the tests check they are refused and
that nothing ran (each would create /tmp/finepose_pickle_PWNED if Python ran it).
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_save_splice  # noqa: E402

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "pickle")
os.makedirs(OUT, exist_ok=True)


def out(name):
    return os.path.join(OUT, name)


def ramp(n, a, b, dtype=torch.float32):
    return (torch.arange(n, dtype=torch.float64) * a + b).to(dtype)


# --------------------------------------------------------------------------
# 1. A bare state dict with every storage type, views and shared storages.
def dtypes_state_dict():
    sd = collections.OrderedDict()
    sd["f32"] = ramp(6, 0.5, -1.0).reshape(2, 3)                    # ramp(6,.5,-1)
    sd["f16"] = ramp(5, 0.25, 1.0, torch.float16)                   # exact in half
    sd["f64"] = ramp(4, 1.0 / 3.0, 0.0, torch.float64)
    sd["bf16"] = ramp(4, 2.0, -3.0, torch.bfloat16)                 # exact in bf16
    sd["i64"] = torch.arange(5, dtype=torch.int64) * 1000000007 - 3  # needs > 32 bits
    sd["i32"] = torch.arange(3, dtype=torch.int32) - 1
    sd["u8"] = torch.arange(4, dtype=torch.uint8) * 60
    sd["b"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(2.5)                                 # 0-d
    sd["empty"] = torch.zeros(0, 3)
    base = ramp(12, 1.0, 0.0).reshape(3, 4)                          # 0..11
    sd["base"] = base
    sd["base_t"] = base.t()                                          # non-contiguous, shared
    sd["base_row1"] = base[1]                                        # offset 4, shared
    sd["base_cols"] = base[:, 1::2]                                  # strided, offset 1
    sd["base_bcast"] = base[0, :1].expand(2, 3)                      # stride 0 (expand)
    half_base = ramp(8, 0.5, 0.0, torch.float16).reshape(2, 4)
    sd["half_t"] = half_base.t()                                     # half, non-contiguous
    return sd


def save_dtypes():
    torch.save(dtypes_state_dict(), out("state_dict_dtypes.pt"))


# --------------------------------------------------------------------------
# 2. A FinePOSE-shaped checkpoint: what main.py writes.
class TinyAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = torch.nn.Linear(4, 12)
        self.proj = torch.nn.Linear(4, 4)


class TinyBlock(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(4)
        self.attn = TinyAttention()


class TinyEstimator(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.Spatial_pos_embed = torch.nn.Parameter(torch.zeros(1, 3, 4))
        self.STEblocks = torch.nn.ModuleList([TinyBlock(), TinyBlock()])


class TinyVisual(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 2, 2, bias=False)


class TinyClip(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = TinyVisual()
        self.token_embedding = torch.nn.Embedding(5, 4)


class TinyFinePOSE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pose_estimator = TinyEstimator()
        self.clip_text = TinyClip()
        self.register_buffer("betas", torch.arange(3, dtype=torch.float64) / 8)


def fill_by_formula(model):
    """Parameter k (in state_dict order) = ramp(numel, 0.01 * (k + 1), k)."""
    with torch.no_grad():
        for k, (name, t) in enumerate(model.state_dict().items()):
            if t.dtype.is_floating_point:
                t.copy_(ramp(t.numel(), 0.01 * (k + 1), float(k), t.dtype).reshape(t.shape))


def save_finepose_like():
    model = TinyFinePOSE()
    fill_by_formula(model)
    wrapped = torch.nn.DataParallel(model)  # CPU: only adds the 'module.' prefix
    params = [p for n, p in wrapped.named_parameters() if "clip_text" not in n]
    optimizer = torch.optim.AdamW(params, lr=0.0003)
    loss = sum((p * p).sum() for p in params)
    loss.backward()
    optimizer.step()
    # Undo the step so model_pos still follows the formula (optimizer state stays).
    fill_by_formula(model)
    ckpt = {
        "epoch": 7,
        "lr": 0.000123,
        # main.py saves train_generator.random_state(): the RandomState object itself.
        "random_state": np.random.RandomState(0),
        "optimizer": optimizer.state_dict(),
        "model_pos": wrapped.state_dict(),
        # What some MixSTE-family scripts add: numpy / tensor losses, None.
        "loss 3d test": np.float64(0.0625),
        "loss 3d train": torch.tensor(0.25),
        "model_traj": None,
    }
    torch.save(ckpt, out("finepose_like.bin"))
    with open(out("finepose_like_keys.txt"), "w") as f:
        for k, (name, t) in enumerate(model.state_dict().items()):
            f.write("%s %s %s\n" % (name, str(t.dtype).replace("torch.", ""),
                                     "x".join(str(s) for s in t.shape) or "scalar"))


# --------------------------------------------------------------------------
# 3. The same tensor saved through a buffer (archive dir 'archive/'), and in
#    the legacy (pre-1.6) format.
def save_archive_and_legacy():
    buf = io.BytesIO()
    torch.save({"w": ramp(3, 1.0, 1.0)}, buf)
    with open(out("archive_name.pt"), "wb") as f:
        f.write(buf.getvalue())
    torch.save({"w": ramp(3, 1.0, 1.0)}, out("legacy.pt"), _use_new_zipfile_serialization=False)
    # A whole module (not a state dict): its classes are not on the allow-list.
    torch.save(torch.nn.Linear(2, 2), out("whole_module.pt"))


# --------------------------------------------------------------------------
# 4. Hand-made torch zips: a view past its storage, and a malicious data.pkl.
class FakeStorage:
    def __init__(self, key, numel, kind="FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class FakeTensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride))

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2,
                self.args + (False, collections.OrderedDict()))


class FakePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, FakeStorage):
            return ("storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel)
        return None


def write_torch_zip(path, pkl_bytes, storages, archive="archive"):
    def info(name):  # fixed timestamps: the same bytes on every run
        return zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(info(archive + "/data.pkl"), pkl_bytes)
        for key, raw in storages.items():
            z.writestr(info(archive + "/data/" + key), raw)
        z.writestr(info(archive + "/version"), "3\n")


def fake_pickle(obj):
    buf = io.BytesIO()
    FakePickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def save_hand_made_zips():
    raw6 = struct.pack("<6f", *[float(i) for i in range(6)])
    s = FakeStorage("0", 6)
    # offset 2 + size 5 (contiguous) needs 7 elements; the storage has 6.
    bad = collections.OrderedDict([("ok", FakeTensor(s, 0, [2, 3], [3, 1])),
                                   ("past_end", FakeTensor(s, 2, [5], [1]))])
    write_torch_zip(out("view_past_storage.pt"), fake_pickle(bad), {"0": raw6})
    # Storage numel claims 100 elements but the entry holds 6.
    s_big = FakeStorage("0", 100)
    lie = collections.OrderedDict([("w", FakeTensor(s_big, 0, [6], [1]))])
    write_torch_zip(out("storage_too_short.pt"), fake_pickle(lie), {"0": raw6})
    # A real-looking checkpoint whose data.pkl calls os.system.
    write_torch_zip(out("malicious_checkpoint.pt"), hostile_os_system(), {"0": raw6})


# --------------------------------------------------------------------------
# 5. Hostile pickles, assembled by hand. Each would create /tmp/finepose_pickle_PWNED.
PWNED = "/tmp/finepose_pickle_PWNED"


def hostile_os_system():
    cmd = ("touch " + PWNED).encode()
    return (b"\x80\x02" + b"cos\nsystem\n" + b"X" + struct.pack("<I", len(cmd)) + cmd +
            b"\x85R.")


def hostile_eval():
    code = ("open(%r, 'w')" % PWNED).encode()
    return (b"\x80\x02" + b"cbuiltins\neval\n" + b"X" + struct.pack("<I", len(code)) + code +
            b"\x85R.")


def hostile_popen_stack_global():
    def su(s):
        b = s.encode()
        return b"\x8c" + bytes([len(b)]) + b
    args = su("touch") + su(PWNED) + b"\x86"  # ('touch', path) → list via tuple
    return (b"\x80\x04" + su("subprocess") + su("Popen") + b"\x93" + args + b"\x85R.")


def hostile_posix_system():
    cmd = ("touch " + PWNED).encode()
    return b"cposix\nsystem\n(S'" + cmd + b"'\ntR."


def hostile_nt_system():
    cmd = b"echo pwned"
    return b"\x80\x02cnt\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R."


def hostile_nested_in_checkpoint():
    """An innocent-looking OrderedDict whose second value is os.system(...)."""
    cmd = ("touch " + PWNED).encode()
    return (b"\x80\x02ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00a" + b"K\x01" +
            b"X\x01\x00\x00\x00b" + b"cos\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd +
            b"\x85Ru.")


def save_hostile():
    files = {
        "hostile_os_system.pkl": hostile_os_system(),
        "hostile_builtins_eval.pkl": hostile_eval(),
        "hostile_subprocess_popen.pkl": hostile_popen_stack_global(),
        "hostile_posix_system.pkl": hostile_posix_system(),
        "hostile_nt_system.pkl": hostile_nt_system(),
        "hostile_nested.pkl": hostile_nested_in_checkpoint(),
    }
    for name, data in files.items():
        with open(out(name), "wb") as f:
            f.write(data)


# --------------------------------------------------------------------------
# 6. numpy arrays in pickles: what .npy object arrays and np.random states hold.
def save_numpy_pickles():
    data = {
        "S1": {
            "Walking": [ramp(6, 0.5, 0.0).numpy().reshape(3, 2),
                        ramp(4, -1.0, 2.0).numpy().reshape(2, 2)],
            "Sitting 1": [np.zeros((0, 2), np.float32)],
        },
        "S5": {"Eating": [np.arange(6, dtype=np.float32).reshape(1, 3, 2) * 2]},
    }
    arrays = {
        "f16": np.arange(5, dtype=np.float16) / 4,
        "f64_fortran": np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3)),
        "i64_big_endian": (np.arange(4, dtype=np.int64) * 300 - 7).astype(">i8"),
        "u8": np.arange(4, dtype=np.uint8) * 7,
        "bool": np.array([True, False, True, True]),
        "i16": np.arange(3, dtype=np.int16) - 1,
        "scalar_f64": np.float64(2.25),
        "scalar_i32": np.int32(-5),
        "zero_d": np.array(1.5, dtype=np.float32),
    }
    # np.save(allow_pickle) writes object arrays with pickle protocol 3.
    with open(out("numpy_objects_p3.pkl"), "wb") as f:
        pickle.dump(np.array(data, dtype=object), f, protocol=3)
    with open(out("numpy_objects_p2.pkl"), "wb") as f:
        pickle.dump(np.array(data, dtype=object), f, protocol=2)
    with open(out("numpy_arrays_p2.pkl"), "wb") as f:
        pickle.dump(arrays, f, protocol=2)
    with open(out("numpy_arrays_p4.pkl"), "wb") as f:
        pickle.dump(arrays, f, protocol=4)
    with open(out("numpy_arrays_p5.pkl"), "wb") as f:
        pickle.dump(arrays, f, protocol=5)
    with open(out("random_state.pkl"), "wb") as f:
        pickle.dump(np.random.RandomState(0).get_state(), f, protocol=2)
    # The object itself, as torch.save pickles main.py's 'random_state' (protocol 2), numpy 1.x form.
    with open(out("random_state_np1.pkl"), "wb") as f:
        pickle.dump(drawn_random_state(), f, protocol=2)
    with open(out("random_state_np116.pkl"), "wb") as f:
        f.write(numpy116_random_state())


def drawn_random_state():
    """RandomState(0) after 3 standard normal draws: a cached Gaussian (has_gauss = 1)."""
    r = np.random.RandomState(0)
    r.standard_normal(3)
    return r


def numpy116_random_state():
    """How numpy < 1.17 pickled a RandomState: numpy.random.__RandomState_ctor() + BUILD with
    get_state()'s tuple. Assembled from opcodes (Debian's numpy is newer): the GLOBAL/REDUCE
    header by hand, the state tuple pickled by this numpy, STOP."""
    state = pickle.dumps(drawn_random_state().get_state(), protocol=2)
    assert state[:2] == b"\x80\x02" and state[-1:] == b"."
    return (b"\x80\x02cnumpy.random\n__RandomState_ctor\n)R" + state[2:-1] + b"b.")


# --------------------------------------------------------------------------
# 6b. Checkpoints exactly as the official main.py / main_3dhp.py write them (every save site:
#     {'epoch', 'lr', 'random_state': the generator's RandomState object, 'optimizer':
#     AdamW(model_pos_train.parameters(), lr, weight_decay=0.1).state_dict(), 'model_pos':
#     DataParallel(model).state_dict()}), in the numpy 1.x form and the numpy 2.x form.
def official_checkpoint(random_state, pickle_module=pickle):
    model = TinyFinePOSE()
    fill_by_formula(model)
    model_pos_train = torch.nn.DataParallel(model)
    lr = 6e-5
    optimizer = torch.optim.AdamW(model_pos_train.parameters(), lr=lr, weight_decay=0.1)
    loss = sum((p * p).sum() for p in model_pos_train.parameters())
    loss.backward()
    optimizer.step()
    fill_by_formula(model)
    buf = io.BytesIO()
    torch.save({
        "epoch": 3,
        "lr": lr,
        "random_state": random_state,
        "optimizer": optimizer.state_dict(),
        "model_pos": model_pos_train.state_dict(),
    }, buf, pickle_module=pickle_module)
    return buf.getvalue()


def save_official_checkpoints():
    with open(out("official_main_py.bin"), "wb") as f:
        f.write(official_checkpoint(drawn_random_state()))
    np2_path = out("random_state_np2_nomemo.pkl")
    with open(np2_path, "rb") as f:  # written by make_numpy2_pickles.py (numpy 2.x)
        np2 = f.read()
    raw = official_checkpoint(torch_save_splice.Spliced(np2), torch_save_splice.SplicingModule)
    with open(out("official_main_py_np2.bin"), "wb") as f:
        f.write(torch_save_splice.with_torch2_records(raw))


# --------------------------------------------------------------------------
# 7. Plain values across protocols, for the opcode coverage tests.
def save_plain_values():
    value = {
        "none": None, "true": True, "false": False,
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**63 - 1, -2**63],
        "big": 2**70 + 5,
        "floats": [0.5, -1e300, 1.0 / 3.0],
        "text": "h\u00e9llo \u2603 \U0001F600",
        "bytes": b"\x00\x01\xfe\xff",
        "tuple": (1, (2, 3), ()),
        "set": {7},
        "frozenset": frozenset([8]),
        "nested": {"a": [{"b": (1, 2)}]},
        1: "int key",
        (1, "x"): "tuple key",
    }
    shared = [1, 2]
    value["shared"] = [shared, shared]
    for proto in range(0, 6):
        if proto == 0:
            v0 = dict(value)  # protocol 0 writes str with STRING/UNICODE; keep only ASCII bytes
            del v0["bytes"]
            data = pickle.dumps(v0, protocol=0)
        else:
            data = pickle.dumps(value, protocol=proto)
        with open(out("plain_p%d.pkl" % proto), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    torch.manual_seed(0)
    save_dtypes()
    save_finepose_like()
    save_archive_and_legacy()
    save_hand_made_zips()
    save_hostile()
    save_numpy_pickles()
    save_official_checkpoints()
    save_plain_values()
    total = sum(os.path.getsize(out(n)) for n in os.listdir(OUT))
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT)), total, OUT))
