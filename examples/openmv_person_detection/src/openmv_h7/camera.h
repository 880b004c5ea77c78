/* The OpenMV Cam H7's camera: an OV7725 on the DCMI, QVGA RGB565 frames (camera_config.h).
 * camera_init() brings the sensor up once, camera_capture() takes one frame. Both wait with
 * the DWT cycle counter, so te_counter_start() must have run (main() starts it first). Not
 * run on a camera: README.md says what was and was not tried. */
#ifndef OPENMV_H7_CAMERA_H
#define OPENMV_H7_CAMERA_H

#include <stdint.h>

#include "camera_config.h"

/* A snapshot waits for the next frame's start and then one frame: about 40 ms each at the
 * 8 MHz pixel clock (an estimate: a QVGA line of 576 pixel times of 2 PIXCLKs, as OpenMV's
 * exposure arithmetic counts it, and some 280 lines; measured on no camera), so a second
 * without the frame's end means the sensor sends none. */
#define CAMERA_FRAME_TIMEOUT_MS 1000u

typedef enum {
    CAMERA_OK = 0,
    CAMERA_NO_SENSOR = 1,          /* nothing answered on SCCB, with any RESET/PWDN polarity */
    CAMERA_UNSUPPORTED_SENSOR = 2, /* a sensor answered that is not an OV7725: its ID in sensor_id */
    CAMERA_SCCB_ERROR = 3,         /* a register write was not acknowledged: failed_register */
    CAMERA_TIMEOUT = 4,            /* no complete frame within CAMERA_FRAME_TIMEOUT_MS */
    CAMERA_OVERRUN = 5,            /* DCMI overrun: the DMA fell behind, or the frame was too long */
    CAMERA_DMA_ERROR = 6,          /* DMA transfer error */
    CAMERA_SHORT_FRAME = 7,        /* the frame ended before CAMERA_FRAME_BYTES arrived */
} camera_status;

/* What the last call found, for the messages main() prints. */
typedef struct {
    uint32_t sensor_id;        /* OV7725: PID << 8 | VER = 0x7721; OV5640: 0x5640 */
    int pwdn_active_high;      /* the polarities the sensor answered with */
    int reset_active_high;
    uint32_t failed_register;  /* CAMERA_SCCB_ERROR: the register whose write failed */
    uint32_t received_bytes;   /* camera_capture(): bytes the DMA wrote */
} camera_report;

camera_status camera_init(camera_report *report);

/* One frame: on CAMERA_OK *frame points to CAMERA_FRAME_BYTES of RGB565 pixels in te_image's
 * layout (little-endian, rows packed), valid until the next call. */
camera_status camera_capture(uint8_t **frame, camera_report *report);

const char *camera_status_text(camera_status status);

#endif
