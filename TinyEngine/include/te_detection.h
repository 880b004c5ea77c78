/* YOLOv3 post-processing: int8 detection heads -> scored boxes in frame pixels.
 *
 * Each head is an NHWC int8 tensor [1][grid_h][grid_w][num_anchors * (5 + num_classes)]
 * with its channels anchor-major: anchor 0's tx, ty, tw, th, objectness, class scores,
 * then anchor 1's, and so on. For cell (y, x) and anchor a (w_a, h_a in model-input pixels):
 *   centre = ((sigmoid(tx) + x) * stride, (sigmoid(ty) + y) * stride)
 *   size   = (exp(tw) * w_a, exp(th) * h_a)
 *   score  = sigmoid(objectness) * sigmoid(class)
 * Boxes are clipped to the model input, those with score >= score_threshold kept (the
 * max_candidates best of them), suppressed greedily per class where their IoU with a
 * better kept box exceeds iou_threshold, and the max_boxes survivors scaled to the frame.
 *
 * That layout was measured on detection.tflite, whose metadata does not state it
 * (examples/openmv_person_detection/normalisation_study.py). Over 136 frames (120 scenes
 * with a pasted person, 6 photos without people, 10 of noise) the channel means repeat
 * with period 6: channel 4 of every group (objectness; most cells hold no person)
 * between -9.8 and -13.2, channel 5 (person, given an object) between +1.8 and +9.4,
 * channels 0-3 within +-0.6; tests/test_detection.py re-checks this on the sample frames.
 * Read anchor-major, 1.7 boxes per frame score >= 0.3 and the best box lies on the pasted
 * person (mean IoU 0.74); read field-major (tx of anchors 0-2, then ty, ...), 525 boxes
 * per frame score >= 0.3 and the best one misses the person (mean IoU 0.18).
 *
 * Float arithmetic (the Cortex-M7 has an FPU; expf comes from libm, so link with -lm),
 * deterministic: candidates are ordered by score, ties by their index (head, row, column,
 * anchor, class). No allocation: the caller gives the candidate and result arrays. */
#ifndef TE_DETECTION_H
#define TE_DETECTION_H

#include <stdint.h>

#include "tinyengine.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TE_DETECTION_MAX_HEADS 4
#define TE_DETECTION_MAX_ANCHORS 4

typedef struct {
    int32_t grid_h, grid_w;
    int32_t stride;      /* model-input pixels per cell */
    int32_t num_anchors; /* 1..TE_DETECTION_MAX_ANCHORS */
    float anchors[TE_DETECTION_MAX_ANCHORS][2]; /* w, h in model-input pixels */
    float scale;         /* the head's quantisation: real = scale * (q - zero_point) */
    int32_t zero_point;
} te_detection_head;

typedef struct {
    int32_t num_heads; /* 1..TE_DETECTION_MAX_HEADS */
    te_detection_head heads[TE_DETECTION_MAX_HEADS];
    int32_t num_classes;
    int32_t input_h, input_w; /* the model input the heads were computed on */
    int32_t frame_h, frame_w; /* the frame the boxes are reported in */
    float score_threshold;    /* keep score >= this */
    float iou_threshold;      /* suppress IoU > this */
    int32_t max_candidates;   /* length of the candidates array */
    int32_t max_boxes;        /* length of the boxes array */
} te_detection_params;

typedef struct {
    float x0, y0, x1, y1; /* corners, 0 <= x0 <= x1 <= width (likewise y) */
    float score;
    int32_t class_id;
} te_detection_box;

/* Decodes heads[i] (an int8 output described by p->heads[i]) into at most p->max_boxes
 * boxes, best first; *num_boxes receives their count. `candidates` is scratch of
 * p->max_candidates entries. */
te_status te_detection_yolov3(const te_detection_params *p, const int8_t *const *heads,
                              te_detection_box *candidates, te_detection_box *boxes, int32_t *num_boxes);

/* A set of anchors for the heads of one stride (a detection_config.json entry). */
typedef struct {
    int32_t stride;
    int32_t num_anchors;
    float anchors[TE_DETECTION_MAX_ANCHORS][2];
} te_detection_anchor_set;

/* Describes the head of one model output: shape {1, grid_h, grid_w, channels}, its
 * quantisation, and the anchor set whose stride is input_h / grid_h (which must equal
 * input_w / grid_w). Fails when no set matches or channels is not
 * num_anchors * (5 + num_classes). */
te_status te_detection_head_init(te_detection_head *head, const int32_t shape[4], float scale,
                                 int32_t zero_point, int32_t input_h, int32_t input_w, int32_t num_classes,
                                 const te_detection_anchor_set *sets, int32_t num_sets);

/* The same from a generated model's macros (genModel.h): output i's TE_OUTPUT_<i>_SHAPE,
 * _SCALE and _ZERO_POINT; i must be a literal. */
#define TE_DETECTION_HEAD_FROM_OUTPUT(head, i, input_h, input_w, num_classes, sets, num_sets)               \
    te_detection_head_init((head), (const int32_t[])TE_OUTPUT_##i##_SHAPE, TE_OUTPUT_##i##_SCALE,           \
                           TE_OUTPUT_##i##_ZERO_POINT, (input_h), (input_w), (num_classes), (sets), (num_sets))

#ifdef __cplusplus
}
#endif

#endif
