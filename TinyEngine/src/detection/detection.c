/* YOLOv3 post-processing (te_detection.h): decode, threshold, sort, non-maximum
 * suppression, scaling to the frame. */
#include <math.h>
#include <stddef.h>

#include "te_detection.h"

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static float minf(float a, float b)
{
    return a < b ? a : b;
}

static float maxf(float a, float b)
{
    return a > b ? a : b;
}

static float clampf(float v, float lo, float hi)
{
    return maxf(lo, minf(v, hi));
}

static int head_valid(const te_detection_head *h)
{
    return h->grid_h > 0 && h->grid_w > 0 && h->stride > 0 && h->num_anchors > 0 &&
           h->num_anchors <= TE_DETECTION_MAX_ANCHORS && h->scale > 0.0f;
}

static int params_valid(const te_detection_params *p)
{
    if (p->num_heads < 1 || p->num_heads > TE_DETECTION_MAX_HEADS || p->num_classes < 1 || p->input_h < 1 ||
        p->input_w < 1 || p->frame_h < 1 || p->frame_w < 1 || p->max_candidates < 1 || p->max_boxes < 1 ||
        !(p->score_threshold == p->score_threshold) || !(p->iou_threshold == p->iou_threshold)) {
        return 0; /* the comparisons with themselves reject NaN thresholds */
    }
    for (int32_t i = 0; i < p->num_heads; i++) {
        if (!head_valid(&p->heads[i])) {
            return 0;
        }
    }
    return 1;
}

/* Inserts c into the list of *count candidates ordered by descending score. It goes after
 * every candidate with an equal score, which all came earlier in the enumeration: the
 * order is that of a stable sort, and a full list drops its worst. */
static void insert_candidate(te_detection_box *list, int32_t *count, int32_t capacity, const te_detection_box *c)
{
    int32_t pos = *count;
    while (pos > 0 && list[pos - 1].score < c->score) {
        pos--;
    }
    if (pos >= capacity) {
        return;
    }
    int32_t last = *count < capacity ? *count : capacity - 1;
    for (int32_t k = last; k > pos; k--) {
        list[k] = list[k - 1];
    }
    list[pos] = *c;
    if (*count < capacity) {
        (*count)++;
    }
}

/* Appends every candidate of one head, in row, column, anchor, class order. */
static void decode_head(const te_detection_params *p, const te_detection_head *h, const int8_t *data,
                        te_detection_box *candidates, int32_t *count)
{
    const int32_t per_anchor = 5 + p->num_classes;
    const float stride = (float)h->stride;
    for (int32_t y = 0; y < h->grid_h; y++) {
        for (int32_t x = 0; x < h->grid_w; x++) {
            for (int32_t a = 0; a < h->num_anchors; a++) {
                const int8_t *t = data + ((y * h->grid_w + x) * h->num_anchors + a) * per_anchor;
                const float objectness = sigmoid(h->scale * (float)(t[4] - h->zero_point));
                int decoded = 0;
                te_detection_box box = {0};
                for (int32_t c = 0; c < p->num_classes; c++) {
                    box.score = objectness * sigmoid(h->scale * (float)(t[5 + c] - h->zero_point));
                    if (!(box.score >= p->score_threshold)) {
                        continue;
                    }
                    if (!decoded) {
                        const float cx = (sigmoid(h->scale * (float)(t[0] - h->zero_point)) + (float)x) * stride;
                        const float cy = (sigmoid(h->scale * (float)(t[1] - h->zero_point)) + (float)y) * stride;
                        const float half_w = expf(h->scale * (float)(t[2] - h->zero_point)) * h->anchors[a][0] * 0.5f;
                        const float half_h = expf(h->scale * (float)(t[3] - h->zero_point)) * h->anchors[a][1] * 0.5f;
                        box.x0 = clampf(cx - half_w, 0.0f, (float)p->input_w);
                        box.x1 = clampf(cx + half_w, 0.0f, (float)p->input_w);
                        box.y0 = clampf(cy - half_h, 0.0f, (float)p->input_h);
                        box.y1 = clampf(cy + half_h, 0.0f, (float)p->input_h);
                        decoded = 1;
                    }
                    box.class_id = c;
                    insert_candidate(candidates, count, p->max_candidates, &box);
                }
            }
        }
    }
}

static float iou(const te_detection_box *a, const te_detection_box *b)
{
    const float w = maxf(minf(a->x1, b->x1) - maxf(a->x0, b->x0), 0.0f);
    const float h = maxf(minf(a->y1, b->y1) - maxf(a->y0, b->y0), 0.0f);
    const float inter = w * h;
    const float uni = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

te_status te_detection_yolov3(const te_detection_params *p, const int8_t *const *heads,
                              te_detection_box *candidates, te_detection_box *boxes, int32_t *num_boxes)
{
    if (p == NULL || heads == NULL || candidates == NULL || boxes == NULL || num_boxes == NULL || !params_valid(p)) {
        return TE_ERROR_ARGUMENT;
    }
    for (int32_t i = 0; i < p->num_heads; i++) {
        if (heads[i] == NULL) {
            return TE_ERROR_ARGUMENT;
        }
    }
    int32_t count = 0;
    for (int32_t i = 0; i < p->num_heads; i++) {
        decode_head(p, &p->heads[i], heads[i], candidates, &count);
    }
    int32_t kept = 0;
    for (int32_t i = 0; i < count && kept < p->max_boxes; i++) {
        int32_t suppressed = 0;
        for (int32_t k = 0; k < kept && !suppressed; k++) {
            suppressed = boxes[k].class_id == candidates[i].class_id && iou(&boxes[k], &candidates[i]) > p->iou_threshold;
        }
        if (!suppressed) {
            boxes[kept++] = candidates[i];
        }
    }
    /* Multiplying before dividing keeps the input's far edge exactly on the frame's. */
    const float fw = (float)p->frame_w, fh = (float)p->frame_h;
    const float iw = (float)p->input_w, ih = (float)p->input_h;
    for (int32_t k = 0; k < kept; k++) {
        boxes[k].x0 = minf(boxes[k].x0 * fw / iw, fw);
        boxes[k].x1 = minf(boxes[k].x1 * fw / iw, fw);
        boxes[k].y0 = minf(boxes[k].y0 * fh / ih, fh);
        boxes[k].y1 = minf(boxes[k].y1 * fh / ih, fh);
    }
    *num_boxes = kept;
    return TE_OK;
}

te_status te_detection_head_init(te_detection_head *head, const int32_t shape[4], float scale,
                                 int32_t zero_point, int32_t input_h, int32_t input_w, int32_t num_classes,
                                 const te_detection_anchor_set *sets, int32_t num_sets)
{
    if (head == NULL || shape == NULL || sets == NULL || num_classes < 1 || shape[0] != 1 || shape[1] < 1 ||
        shape[2] < 1 || input_h % shape[1] != 0 || input_w % shape[2] != 0 ||
        input_h / shape[1] != input_w / shape[2]) {
        return TE_ERROR_ARGUMENT;
    }
    const int32_t stride = input_h / shape[1];
    for (int32_t s = 0; s < num_sets; s++) {
        const te_detection_anchor_set *set = &sets[s];
        if (set->stride != stride) {
            continue;
        }
        if (set->num_anchors < 1 || set->num_anchors > TE_DETECTION_MAX_ANCHORS ||
            shape[3] != set->num_anchors * (5 + num_classes)) {
            return TE_ERROR_ARGUMENT;
        }
        te_detection_head h = {0};
        h.grid_h = shape[1];
        h.grid_w = shape[2];
        h.stride = stride;
        h.num_anchors = set->num_anchors;
        for (int32_t a = 0; a < set->num_anchors; a++) {
            h.anchors[a][0] = set->anchors[a][0];
            h.anchors[a][1] = set->anchors[a][1];
        }
        h.scale = scale;
        h.zero_point = zero_point;
        if (!head_valid(&h)) {
            return TE_ERROR_ARGUMENT;
        }
        *head = h;
        return TE_OK;
    }
    return TE_ERROR_ARGUMENT;
}
