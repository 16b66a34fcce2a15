"""Prints the LD_LIBRARY_PATH of the Jupyter kernel that runs on this Python (a GPU environment).

The CUDA and cuDNN libraries of this environment's nvidia-* wheels come first, so a kernel never
loads another environment's, nor the base image's: TensorFlow's CUDA 12 cuDNN and the CUDA 13
cuDNN share the file name libcudnn.so.9. Then the folders where the NVIDIA container runtime may
put the driver. `kerasbench kernels install --ld-library-path "$(VENV/bin/python THIS)"`.
"""

import glob
import os
import sys
import sysconfig

DRIVER_DIRS = ["/usr/local/nvidia/lib", "/usr/local/nvidia/lib64"]


def cuda_dirs():
    return sorted(glob.glob(os.path.join(sysconfig.get_paths()["purelib"], "nvidia", "*", "lib")))


if __name__ == "__main__":
    dirs = cuda_dirs()
    if not dirs:
        sys.exit(
            "ld_library_path.py: no nvidia-* wheel libraries in %s: not a GPU environment"
            % sys.prefix
        )
    print(":".join(dirs + DRIVER_DIRS))
