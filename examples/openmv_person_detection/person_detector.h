/* The person-detection pipeline on one camera frame: te_image preprocessing, the generated
 * detection.tflite model (genModel.h), te_detection post-processing. Shared by the host
 * demo and the board programs; no I/O. */
#ifndef PERSON_DETECTOR_H
#define PERSON_DETECTOR_H

#include <stdint.h>

#include "te_detection.h"
#include "te_image.h"

#define PERSON_SCORE_THRESHOLD 0.3f
#define PERSON_IOU_THRESHOLD 0.45f
#define PERSON_MAX_CANDIDATES 64
#define PERSON_MAX_BOXES 10

typedef struct {
    te_image_params image;
    int8_t table[TE_IMAGE_CHANNELS * 256];
    te_detection_params detection;
    te_detection_box candidates[PERSON_MAX_CANDIDATES];
} person_detector;

/* Sets up d for frames of frame_w x frame_h pixels in `format`: 0 on success. */
int person_detector_init(person_detector *d, te_image_format format, int32_t frame_w, int32_t frame_h);

/* Runs the pipeline on one frame; boxes (PERSON_MAX_BOXES entries) receive the persons found,
 * best first, in frame pixels. Returns 0, or 1 if preprocessing, 2 if the model, 3 if the
 * post-processing failed. */
int person_detector_run(person_detector *d, const uint8_t *frame, te_detection_box *boxes, int32_t *num_boxes);

#endif
