"""Makes this folder's sample frames (run once; the frames are committed).

    python make_images.py SKIMAGE_DATA_DIR

SKIMAGE_DATA_DIR is the `skimage/data` folder of a scikit-image wheel (0.26 was used),
which ships astronaut.png (public domain) and camera.png (CC0); see LICENSE.md.
Writes astronaut_144x144.ppm (RGB888), cameraman_176x144.rgb565 and
two_people_200x150.rgb565 (RGB565 little-endian, rows packed, no header).
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent


def to_rgb565(im: Image.Image) -> bytes:
    a = np.asarray(im.convert("RGB")).astype(np.uint16)
    v = ((a[..., 0] >> 3) << 11) | ((a[..., 1] >> 2) << 5) | (a[..., 2] >> 3)
    return v.astype("<u2").tobytes()


def write_ppm(im: Image.Image, path: Path) -> None:
    im = im.convert("RGB")
    path.write_bytes(b"P6\n%d %d\n255\n" % im.size + im.tobytes())


def scene(width: int, height: int) -> Image.Image:
    """A drawn outdoor background: sky gradient, hills, a path, two trees."""
    sky = np.linspace([110, 160, 225], [200, 225, 245], height // 2).astype(np.uint8)
    ground = np.linspace([90, 150, 70], [60, 110, 40], height - height // 2).astype(np.uint8)
    im = Image.fromarray(np.repeat(np.concatenate([sky, ground])[:, None, :], width, axis=1))
    d = ImageDraw.Draw(im)
    d.ellipse((-40, height // 2 - 25, 90, height // 2 + 25), fill=(80, 130, 60))
    d.ellipse((110, height // 2 - 18, 260, height // 2 + 30), fill=(70, 120, 55))
    d.polygon([(width // 2 - 10, height), (width // 2 + 10, height), (width // 2 + 3, height // 2),
               (width // 2 - 3, height // 2)], fill=(170, 150, 110))
    for tx in (20, width - 25):
        d.rectangle((tx - 3, height // 2 - 5, tx + 3, height // 2 + 25), fill=(90, 60, 30))
        d.ellipse((tx - 16, height // 2 - 40, tx + 16, height // 2 + 2), fill=(40, 100, 40))
    return im


def main(data: Path) -> None:
    astronaut = Image.open(data / "astronaut.png").convert("RGB")
    camera = Image.open(data / "camera.png").convert("RGB")
    write_ppm(astronaut.resize((144, 144), Image.LANCZOS), HERE / "astronaut_144x144.ppm")
    cameraman = camera.crop((0, 40, 512, 424))
    (HERE / "cameraman_176x144.rgb565").write_bytes(to_rgb565(cameraman.resize((176, 144), Image.LANCZOS)))
    im = scene(200, 150)
    im.paste(astronaut.crop((0, 10, 370, 512)).resize((62, 84), Image.LANCZOS), (18, 52))
    im.paste(camera.crop((0, 50, 330, 512)).resize((58, 81), Image.LANCZOS), (124, 60))
    (HERE / "two_people_200x150.rgb565").write_bytes(to_rgb565(im))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
