"""torch.save with a pickle body written elsewhere spliced in (for numpy 2.x RandomState objects
inside checkpoints written by Debian's torch + numpy 1.x). Used by make_pickle_fixtures.py and
make_parity_fixtures.py; the body comes from make_numpy2_pickles.py (memo-free, so the outer
stream's PUT/GET indices stay consistent)."""
import io
import pickle
import zipfile


class Spliced:
    """Stands for a memo-free pickle body (a whole protocol-2 pickle without PROTO and STOP)."""
    def __init__(self, pickle_bytes):
        assert pickle_bytes[:2] == b"\x80\x02" and pickle_bytes[-1:] == b"."
        self.body = pickle_bytes[2:-1]


class _SplicingPickler(pickle._Pickler):
    def save(self, obj, save_persistent_id=True):
        if isinstance(obj, Spliced):
            self.write(obj.body)
            return
        super().save(obj, save_persistent_id)


class SplicingModule:
    Pickler = _SplicingPickler
    Unpickler = pickle.Unpickler


def with_torch2_records(raw):
    """Add what torch 2.x writes beside data.pkl (byteorder, .data/serialization_id)."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    names = src.namelist()
    arch = names[0].split("/")[0]
    dst = io.BytesIO()
    stamp = (2024, 1, 1, 0, 0, 0)
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        for n in names:
            z.writestr(zipfile.ZipInfo(n, date_time=stamp), src.read(n))
        if arch + "/byteorder" not in names:
            z.writestr(zipfile.ZipInfo(arch + "/byteorder", date_time=stamp), "little")
        z.writestr(zipfile.ZipInfo(arch + "/.data/serialization_id", date_time=stamp),
                   "1234567890123456789012345678901234567890")
    return dst.getvalue()
