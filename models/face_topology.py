"""Landmark indices of the 478-point MediaPipe face mesh (468 mesh points + 10 iris points).

"Left"/"Right" are the subject's sides: the subject's right eye appears on the image left.
Contours run from one corner to the other in image-left to image-right order.
"""

from __future__ import annotations

NUM_LANDMARKS = 478

NOSE_TIP = 1
FOREHEAD_TOP = 10
CHIN = 152
CHEEK_EDGE_RIGHT = 234  # image left, near the ear
CHEEK_EDGE_LEFT = 454  # image right, near the ear

MOUTH_CORNER_RIGHT = 61  # outer corner, image left
MOUTH_CORNER_LEFT = 291
INNER_CORNER_RIGHT = 78
INNER_CORNER_LEFT = 308
INNER_LIP_UPPER_MID = 13
INNER_LIP_LOWER_MID = 14
OUTER_LIP_UPPER_MID = 0
OUTER_LIP_LOWER_MID = 17

LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

# Eye contours (corner to corner, image left to image right).
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (362, 398, 384, 385, 386, 387, 388, 466, 263)
EYE_LEFT_LOWER = (362, 382, 381, 380, 374, 373, 390, 249, 263)
EYE_RIGHT_CORNERS = (33, 133)
EYE_LEFT_CORNERS = (362, 263)
# Pairs (upper, lower) used for the eye aspect ratio.
EYE_RIGHT_VERTICAL_PAIRS = ((160, 144), (159, 145), (158, 153))
EYE_LEFT_VERTICAL_PAIRS = ((385, 380), (386, 374), (387, 373))

IRIS_RIGHT = (468, 469, 470, 471, 472)  # centre first
IRIS_LEFT = (473, 474, 475, 476, 477)

BROW_RIGHT_UPPER = (70, 63, 105, 66, 107)  # outer to inner
BROW_RIGHT_LOWER = (46, 53, 52, 65, 55)
BROW_LEFT_UPPER = (336, 296, 334, 293, 300)  # inner to outer
BROW_LEFT_LOWER = (285, 295, 282, 283, 276)

CHEEK_RIGHT = 205
CHEEK_LEFT = 425

FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
