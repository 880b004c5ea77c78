"""PlatformIO's entry point of the TinyEngine QEMU dev-platform (builder/main.py does the work).

It declares no packages: the toolchain (Debian's gcc-arm-none-eabi) and QEMU are taken
from the PATH, so nothing is ever fetched from PlatformIO's registry."""

from platformio.public import PlatformBase


class TinyengineqemuPlatform(PlatformBase):
    pass
