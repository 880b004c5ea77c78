# PlatformIO pre-script: the sample frames of images/ (listed in images/persons.json) as C
# arrays, written into the build directory and compiled with the project: frames.h
# declares sample_frames[] and SAMPLE_FRAME_COUNT. RGB565 frames are raw little-endian
# pixels; PPM (P6, maxval 255) frames are RGB888.
import json
import os

Import("env")  # noqa: F821  (SCons)

PROJECT = env.subst("$PROJECT_DIR")  # noqa: F821
IMAGES = os.path.join(PROJECT, "images")
OUT = os.path.join(env.subst("$BUILD_DIR"), "sample_frames")  # noqa: F821


def pixels(path, info):
    data = open(path, "rb").read()
    if info["format"] == "rgb565":
        expected = info["width"] * info["height"] * 2
        if len(data) != expected:
            raise ValueError(f"{path}: {len(data)} bytes, {expected} expected")
        return data
    fields = data.split(maxsplit=4)  # P6, width, height, maxval, pixels (one whitespace byte after maxval)
    if fields[0] != b"P6" or int(fields[1]) != info["width"] or int(fields[2]) != info["height"] or fields[3] != b"255":
        raise ValueError(f"{path}: not the P6 {info['width']}x{info['height']} frame persons.json describes")
    body = data[len(data) - info["width"] * info["height"] * 3:]
    return body


def c_array(name, data):
    rows = (", ".join(str(b) for b in data[i:i + 24]) for i in range(0, len(data), 24))
    return f"static const uint8_t {name}[{len(data)}] = {{\n    " + ",\n    ".join(rows) + "\n};\n"


def write_if_changed(path, text):
    if not os.path.isfile(path) or open(path).read() != text:
        with open(path, "w") as f:
            f.write(text)


frames = json.load(open(os.path.join(IMAGES, "persons.json")))
arrays, entries = [], []
for i, (name, info) in enumerate(sorted(frames.items())):
    arrays.append(c_array(f"frame_{i}", pixels(os.path.join(IMAGES, name), info)))
    rgb565 = int(info["format"] == "rgb565")
    entries.append(f'    {{"{name}", {rgb565}, {info["width"]}, {info["height"]}, frame_{i}}},')

os.makedirs(OUT, exist_ok=True)
write_if_changed(os.path.join(OUT, "frames.h"), f"""/* Generated from images/ by scripts/embed_frames.py. Do not edit. */
#ifndef SAMPLE_FRAMES_H
#define SAMPLE_FRAMES_H

#include <stdint.h>

typedef struct {{
    const char *name;
    int rgb565; /* 1: RGB565 little-endian; 0: RGB888 */
    int32_t width;
    int32_t height;
    const uint8_t *pixels;
}} sample_frame;

#define SAMPLE_FRAME_COUNT {len(entries)}
extern const sample_frame sample_frames[SAMPLE_FRAME_COUNT];

#endif
""")
write_if_changed(os.path.join(OUT, "frames.c"), "/* Generated from images/ by scripts/embed_frames.py. Do not edit. */\n"
                 '#include "frames.h"\n\n' + "\n".join(arrays)
                 + "\nconst sample_frame sample_frames[SAMPLE_FRAME_COUNT] = {\n" + "\n".join(entries) + "\n};\n")
env.Append(CPPPATH=[OUT])  # noqa: F821
env.BuildSources(os.path.join("$BUILD_DIR", "sample_frames_obj"), OUT)  # noqa: F821
