#!/usr/bin/env python3
"""Write the small .npy/.npz fixtures that test/data/npy.test.ts checks edgefit's readers against.

Run from the repository root with Debian's python (needs only numpy):
  /usr/bin/python3 scripts/make-npy-fixtures.py

Every file is written by numpy itself, so the tests compare our reader with numpy's writer. The values
are fixed (no randomness); the test hard-codes the same values.
"""

import io
import os

import numpy as np

OUT = os.path.join("test", "fixtures", "npy")

# One 1-D array per dtype; the test lists the same values.
VALUES = {
    "b1": [True, False, True],
    "i1": [-128, -1, 0, 1, 127],
    "u1": [0, 1, 255],
    "i2": [-32768, -1, 0, 258, 32767],
    "u2": [0, 258, 65535],
    "i4": [-2147483648, -1, 0, 16909060, 2147483647],
    "u4": [0, 16909060, 4294967295],
    "i8": [-9223372036854775808, -1, 0, 72623859790382856, 9223372036854775807],
    "u8": [0, 72623859790382856, 18446744073709551615],
    "f2": [0.0, -0.0, 1.0, -2.5, 65504.0, 2.0**-24, np.inf, np.nan],
    "f4": [0.0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45, -np.inf, np.nan],
    "f8": [0.1, -1e308, 5e-324, np.inf],
}


def save_npy(name, array, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        if version is None:
            np.save(f, array)
        else:
            np.lib.format.write_array(f, array, version=version)


def main():
    os.makedirs(OUT, exist_ok=True)

    # 1. every dtype in both byte orders, in one archive (np.savez keeps each array's byte order)
    arrays = {}
    for code, values in VALUES.items():
        arrays[code + "_le"] = np.array(values, dtype="<" + code)
        arrays[code + "_be"] = np.array(values, dtype=">" + code)
    np.savez(os.path.join(OUT, "dtypes.npz"), **arrays)

    # 2. single .npy files for the cases the reader must get right
    save_npy("f4-be-2x3.npy", (np.arange(6, dtype=">f4").reshape(2, 3) / 4 - 0.5).astype(">f4"))
    save_npy("f2-2x2.npy", np.array([[1.0, -2.5], [65504.0, 0.333333]], dtype="<f2"))
    save_npy("i8-2x2.npy", np.array([[-(2**62) - 3, 7], [2**53 + 1, -1]], dtype="<i8"))
    save_npy("bool-2x3.npy", np.array([[True, False, True], [False, False, True]]))
    save_npy("u2-be-2x2x2.npy", np.arange(8, dtype=">u2").reshape(2, 2, 2) * 4097)
    save_npy("fortran-2x3.npy", np.asfortranarray(np.arange(6, dtype="<i4").reshape(2, 3)))
    save_npy("v2-f8-3.npy", np.array([1.25, -2.5, 1e-300]), version=(2, 0))
    save_npy("v3-i2-2x2.npy", np.array([[1, -2], [300, -400]], dtype="<i2"), version=(3, 0))
    save_npy("scalar-f4.npy", np.float32(2.75).reshape(()))
    save_npy("empty-0x3.npy", np.zeros((0, 3), dtype="<f4"))

    # 3. a dataset as the CLI expects it, deflated: inputs named after the model input plus labels
    x = (np.arange(16, dtype="<f4").reshape(4, 1, 2, 2) - 8) / 8
    labels = np.array([3, 0, 9, 1], dtype="<i8")
    np.savez_compressed(os.path.join(OUT, "dataset-compressed.npz"), input=x, labels=labels)

    # 4. what numpy writes for a plain float32 array, to compare encodeNpy byte for byte
    save_npy("f4-le-2x3.npy", np.arange(6, dtype="<f4").reshape(2, 3) - 2.5)

    # sanity: everything reads back in numpy
    for name in sorted(os.listdir(OUT)):
        with open(os.path.join(OUT, name), "rb") as f:
            np.load(io.BytesIO(f.read()))
    print("wrote", len(os.listdir(OUT)), "files to", OUT)


if __name__ == "__main__":
    main()
