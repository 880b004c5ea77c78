/* See person_detector.h. */
#include "person_detector.h"

#include "genModel.h"

#if TE_NUM_INPUTS != 1 || TE_NUM_OUTPUTS != 3
#error "person_detector expects detection.tflite: one input, three YOLOv3 heads"
#endif

/* Anchors (w, h in model-input pixels) per head stride, from detection_config.json. */
static const te_detection_anchor_set ANCHOR_SETS[] = {
    {32, 3, {{116.0f, 90.0f}, {156.0f, 198.0f}, {373.0f, 326.0f}}},
    {16, 3, {{30.0f, 61.0f}, {62.0f, 45.0f}, {59.0f, 119.0f}}},
    {8, 3, {{10.0f, 13.0f}, {16.0f, 30.0f}, {33.0f, 23.0f}}},
};
#define NUM_ANCHOR_SETS ((int32_t)(sizeof ANCHOR_SETS / sizeof ANCHOR_SETS[0]))
#define NUM_CLASSES 1

/* The float input detection.tflite expects: pixels mapped to [-1, 1] (README.md says how
 * that was chosen). */
static const te_image_norm_params NORM = {
    {0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f}, TE_INPUT_0_SCALE, TE_INPUT_0_ZERO_POINT,
};

int person_detector_init(person_detector *d, te_image_format format, int32_t frame_w, int32_t frame_h)
{
    static const int32_t input_shape[] = TE_INPUT_0_SHAPE;
    const int32_t input_h = input_shape[1], input_w = input_shape[2];
    if (te_image_quant_table(&NORM, d->table) != TE_OK) {
        return 1;
    }
    d->image.format = format;
    d->image.src_h = frame_h;
    d->image.src_w = frame_w;
    d->image.dst_h = input_h;
    d->image.dst_w = input_w;
    d->image.table = d->table;

    te_detection_params *p = &d->detection;
    p->num_heads = TE_NUM_OUTPUTS;
    p->num_classes = NUM_CLASSES;
    p->input_h = input_h;
    p->input_w = input_w;
    p->frame_h = frame_h;
    p->frame_w = frame_w;
    p->score_threshold = PERSON_SCORE_THRESHOLD;
    p->iou_threshold = PERSON_IOU_THRESHOLD;
    p->max_candidates = PERSON_MAX_CANDIDATES;
    p->max_boxes = PERSON_MAX_BOXES;
    if (TE_DETECTION_HEAD_FROM_OUTPUT(&p->heads[0], 0, input_h, input_w, NUM_CLASSES, ANCHOR_SETS, NUM_ANCHOR_SETS) ||
        TE_DETECTION_HEAD_FROM_OUTPUT(&p->heads[1], 1, input_h, input_w, NUM_CLASSES, ANCHOR_SETS, NUM_ANCHOR_SETS) ||
        TE_DETECTION_HEAD_FROM_OUTPUT(&p->heads[2], 2, input_h, input_w, NUM_CLASSES, ANCHOR_SETS, NUM_ANCHOR_SETS)) {
        return 3;
    }
    return 0;
}

int person_detector_run(person_detector *d, const uint8_t *frame, te_detection_box *boxes, int32_t *num_boxes)
{
    if (te_image_to_input(&d->image, frame, te_input(0)) != TE_OK) {
        return 1;
    }
    if (te_invoke() != 0) {
        return 2;
    }
    const int8_t *const heads[TE_NUM_OUTPUTS] = {te_output(0), te_output(1), te_output(2)};
    if (te_detection_yolov3(&d->detection, heads, d->candidates, boxes, num_boxes) != TE_OK) {
        return 3;
    }
    return 0;
}
