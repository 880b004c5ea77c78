/* Person detection on one sample frame, on the host:
 *   host_demo FRAME.ppm                    binary PPM (P6, maxval 255, no comments): RGB888
 *   host_demo FRAME.rgb565 WIDTH HEIGHT    raw RGB565 little-endian, rows packed
 * prints the frame and every box found, in frame pixels, best first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "person_detector.h"

#define MAX_FRAME_BYTES (640 * 480 * 3)

static uint8_t frame[MAX_FRAME_BYTES];

static int read_exact(FILE *f, size_t bytes)
{
    return bytes <= sizeof frame && fread(frame, 1, bytes, f) == bytes;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 4) {
        fprintf(stderr, "usage: %s FRAME.ppm | FRAME.rgb565 WIDTH HEIGHT\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    te_image_format format;
    int width = 0, height = 0, ok;
    if (argc == 4) {
        format = TE_IMAGE_RGB565;
        width = atoi(argv[2]);
        height = atoi(argv[3]);
        ok = width > 0 && height > 0 && read_exact(f, (size_t)width * (size_t)height * 2);
    } else {
        int maxval = 0;
        format = TE_IMAGE_RGB888;
        ok = fscanf(f, "P6 %d %d %d", &width, &height, &maxval) == 3 && maxval == 255 && fgetc(f) != EOF &&
             width > 0 && height > 0 && read_exact(f, (size_t)width * (size_t)height * 3);
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "%s: not a frame this demo reads (or larger than 640x480)\n", argv[1]);
        return 2;
    }

    static person_detector detector;
    te_detection_box boxes[PERSON_MAX_BOXES];
    int32_t count = 0;
    int status = person_detector_init(&detector, format, width, height);
    if (status == 0) {
        status = person_detector_run(&detector, frame, boxes, &count);
    }
    if (status != 0) {
        fprintf(stderr, "person detection failed at step %d\n", status);
        return 1;
    }
    printf("frame %dx%d %s: %d boxes\n", width, height, format == TE_IMAGE_RGB565 ? "rgb565" : "rgb888", (int)count);
    for (int32_t i = 0; i < count; i++) {
        printf("box %d: x0 %.9g y0 %.9g x1 %.9g y1 %.9g score %.9g class %d\n", (int)i, (double)boxes[i].x0,
               (double)boxes[i].y0, (double)boxes[i].x1, (double)boxes[i].y1, (double)boxes[i].score,
               (int)boxes[i].class_id);
    }
    return 0;
}
