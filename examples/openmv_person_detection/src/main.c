/* Person detection on a board: frames in, boxes out.
 *
 * Simulated Cortex-M7 (env qemu_cortex_m7, built with PERSON_SAMPLE_FRAMES): runs the
 * pipeline on each sample frame embedded at build time and prints, through semihosting,
 *   frame <name> <width>x<height>: <n> boxes
 *   box <i>: x0 <x0> y0 <y0> x1 <x1> y1 <y1> score <score> class <class>
 *   cycles: <count for the whole pipeline on this frame>
 * where the count is the number of instructions QEMU executed, not cycles of a real core.
 *
 * OpenMV Cam H7 (env openmv_cam_h7): brings up the OV7725 (openmv_h7/camera.c), then takes
 * QVGA RGB565 frames with camera_capture() and prints the same lines for each through USART3
 * (pin P4), the count in core cycles (DWT), after a line saying which sensor answered; the
 * boxes are also drawn into the frame buffer (the camera has no display: a debugger can
 * read the frame there). A camera error is printed and ends the program. None of this has
 * run on a camera: see the README. */
#include <stddef.h>
#include <stdint.h>

#include "person_detector.h"
#include "te_firmware.h"
#include "tinyengine.h" /* keeps PlatformIO's Library Dependency Finder building TinyEngine */

#ifdef PERSON_SAMPLE_FRAMES
#include "frames.h"
#else
#include "frame_rgb565.h"
#include "openmv_h7/camera.h"
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

static void print_field(const char *label, float value)
{
    te_print(label);
    print_decimal(value);
}

/* Detects persons in one frame and prints what it found into boxes (PERSON_MAX_BOXES) and
 * *count; returns the pipeline's status. */
static int detect(const char *name, te_image_format format, int32_t width, int32_t height, const uint8_t *frame,
                  te_detection_box *boxes, int32_t *count)
{
    *count = 0;
    int status = person_detector_init(&detector, format, width, height);
    const uint64_t start = te_counter_read();
    if (status == 0) {
        status = person_detector_run(&detector, frame, boxes, count);
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
    te_print_int(*count);
    te_print(" boxes\n");
    for (int32_t i = 0; i < *count; i++) {
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
    te_detection_box boxes[PERSON_MAX_BOXES];
    int32_t count;
    te_counter_start();
    for (int i = 0; i < SAMPLE_FRAME_COUNT; i++) {
        const sample_frame *f = &sample_frames[i];
        const int status = detect(f->name, f->rgb565 ? TE_IMAGE_RGB565 : TE_IMAGE_RGB888, f->width, f->height,
                                  f->pixels, boxes, &count);
        if (status != 0) {
            return status;
        }
    }
    return 0;
}
#else
#define BOX_THICKNESS 2

static void print_hex(uint32_t value)
{
    char digits[9];
    for (int i = 7; i >= 0; i--) {
        digits[i] = "0123456789abcdef"[value & 0xFu];
        value >>= 4;
    }
    digits[8] = '\0';
    te_print("0x");
    te_print(digits);
}

/* "camera: <what>" with the report's details; returns the status as the exit status. */
static int camera_failed(camera_status status, const camera_report *report)
{
    te_print("camera: ");
    te_print(camera_status_text(status));
    if (status == CAMERA_UNSUPPORTED_SENSOR) {
        te_print(", sensor id ");
        print_hex(report->sensor_id);
    } else if (status == CAMERA_SCCB_ERROR) {
        te_print(", register ");
        print_hex(report->failed_register);
    } else if (status != CAMERA_NO_SENSOR) {
        te_print(", ");
        te_print_int(report->received_bytes);
        te_print(" of ");
        te_print_int(CAMERA_FRAME_BYTES);
        te_print(" bytes");
    }
    te_print("\n");
    return (int)status;
}

int main(void)
{
    camera_report report;
    te_counter_start(); /* the camera's waits use the DWT counter too */
    camera_status status = camera_init(&report);
    if (status != CAMERA_OK) {
        return camera_failed(status, &report);
    }
    te_print("camera: OV7725 ");
    print_hex(report.sensor_id);
    te_print(report.pwdn_active_high ? ", PWDN active high" : ", PWDN active low");
    te_print(report.reset_active_high ? ", RESET active high\n" : ", RESET active low\n");
    for (;;) {
        uint8_t *frame;
        status = camera_capture(&frame, &report);
        if (status != CAMERA_OK) {
            return camera_failed(status, &report);
        }
        te_detection_box boxes[PERSON_MAX_BOXES];
        int32_t count;
        const int detected = detect("camera", TE_IMAGE_RGB565, CAMERA_WIDTH, CAMERA_HEIGHT, frame, boxes, &count);
        if (detected != 0) {
            return detected;
        }
        for (int32_t i = 0; i < count; i++) {
            rgb565_draw_box(frame, CAMERA_WIDTH, CAMERA_HEIGHT, boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1,
                            BOX_THICKNESS, RGB565_GREEN);
        }
    }
}
#endif
