/* Person detection on a board: frames in, boxes out.
 *
 * Simulated Cortex-M7 (env qemu_cortex_m7, built with PERSON_SAMPLE_FRAMES): runs the
 * pipeline on each sample frame embedded at build time and prints, through semihosting,
 *   frame <name> <width>x<height>: <n> boxes
 *   box <i>: x0 <x0> y0 <y0> x1 <x1> y1 <y1> score <score> class <class>
 *   cycles: <count for the whole pipeline on this frame>
 * where the count is the number of instructions QEMU executed, not cycles of a real core.
 *
 * OpenMV Cam H7 (env openmv_cam_h7): takes camera frames with camera_capture() and prints
 * the same lines through USART3 (pin P4), the count in core cycles (DWT). The camera
 * capture is NOT implemented: see camera_capture() below and the README. */
#include <stddef.h>
#include <stdint.h>

#include "person_detector.h"
#include "te_firmware.h"
#include "tinyengine.h" /* keeps PlatformIO's Library Dependency Finder building TinyEngine */

#ifdef PERSON_SAMPLE_FRAMES
#include "frames.h"
#endif

static person_detector detector;

/* value with six decimals (te_print has no floating point): -12.5 -> "-12.500000" */
static void print_decimal(float value)
{
    const int64_t micro = (int64_t)(value * 1e6f + (value < 0 ? -0.5f : 0.5f));
    const uint64_t magnitude = micro < 0 ? (uint64_t)(-micro) : (uint64_t)micro;
    if (micro < 0) {
        te_print("-");
    }
    te_print_int((int64_t)(magnitude / 1000000u));
    te_print(".");
    char digits[7] = "000000";
    uint64_t fraction = magnitude % 1000000u;
    for (int i = 5; i >= 0; i--) {
        digits[i] = (char)('0' + fraction % 10u);
        fraction /= 10u;
    }
    te_print(digits);
}

/* Detects persons in one frame and prints what it found; returns the pipeline's status. */
static void print_field(const char *label, float value)
{
    te_print(label);
    print_decimal(value);
}

static int detect(const char *name, te_image_format format, int32_t width, int32_t height, const uint8_t *frame)
{
    te_detection_box boxes[PERSON_MAX_BOXES];
    int32_t count = 0;
    int status = person_detector_init(&detector, format, width, height);
    const uint64_t start = te_counter_read();
    if (status == 0) {
        status = person_detector_run(&detector, frame, boxes, &count);
    }
    const uint64_t end = te_counter_read();
    if (status != 0) {
        te_print("person detection failed at step ");
        te_print_int(status);
        te_print("\n");
        return status;
    }
    te_print("frame ");
    te_print(name);
    te_print(" ");
    te_print_int(width);
    te_print("x");
    te_print_int(height);
    te_print(": ");
    te_print_int(count);
    te_print(" boxes\n");
    for (int32_t i = 0; i < count; i++) {
        te_print("box ");
        te_print_int(i);
        te_print(":");
        print_field(" x0 ", boxes[i].x0);
        print_field(" y0 ", boxes[i].y0);
        print_field(" x1 ", boxes[i].x1);
        print_field(" y1 ", boxes[i].y1);
        print_field(" score ", boxes[i].score);
        te_print(" class ");
        te_print_int(boxes[i].class_id);
        te_print("\n");
    }
    te_print("cycles: ");
    te_print_int((int64_t)TE_COUNT_FROM_TICKS(end - start));
    te_print("\n");
    return 0;
}

#ifdef PERSON_SAMPLE_FRAMES
int main(void)
{
    te_counter_start();
    for (int i = 0; i < SAMPLE_FRAME_COUNT; i++) {
        const sample_frame *f = &sample_frames[i];
        const int status = detect(f->name, f->rgb565 ? TE_IMAGE_RGB565 : TE_IMAGE_RGB888, f->width, f->height,
                                  f->pixels);
        if (status != 0) {
            return status;
        }
    }
    return 0;
}
#else
/* QQVGA RGB565, the OpenMV's usual detection resolution: 160 x 120 x 2 bytes. */
#define CAMERA_WIDTH 160
#define CAMERA_HEIGHT 120
static uint8_t camera_frame[CAMERA_WIDTH * CAMERA_HEIGHT * 2];

/* TO FILL: one camera frame, RGB565 little-endian, rows packed, into `frame`; 0 on success.
 *
 * NOT IMPLEMENTED. On the OpenMV Cam H7 this is the sensor's glue: its I2C (SCCB) set-up
 * for QQVGA RGB565 (OV7725 on the H7, OV5640 on the H7 Plus), its clock (XCLK from a
 * timer), and the DCMI capture with DMA into `frame`. OpenMV's firmware (omv/sensor.c,
 * omv/ports/stm32/) does all of it; port it into a file of its own in src/ defining
 * camera_capture() (this stub is weak, so that definition replaces it). Until then main()
 * stops after saying so. */
int camera_capture(uint8_t *frame, int32_t width, int32_t height);
__attribute__((weak)) int camera_capture(uint8_t *frame, int32_t width, int32_t height)
{
    (void)frame;
    (void)width;
    (void)height;
    return -1;
}

int main(void)
{
    te_counter_start();
    for (;;) {
        if (camera_capture(camera_frame, CAMERA_WIDTH, CAMERA_HEIGHT) != 0) {
            te_print("camera capture is not implemented (src/main.c: camera_capture)\n");
            return 1;
        }
        const int status = detect("camera", TE_IMAGE_RGB565, CAMERA_WIDTH, CAMERA_HEIGHT, camera_frame);
        if (status != 0) {
            return status;
        }
    }
}
#endif
