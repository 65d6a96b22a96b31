"""Calibration shared by the rig (rendering) and the estimator (reading a portrait).

Each constant says what one unit of a coefficient does, so both directions agree.
"""

JAW_GAP_PER_UNIT = 0.55  # inner-lip gap at jawOpen=1, in mouth widths
SMILE_LIFT_PER_UNIT = 0.12  # corner lift at mouthSmile=1, in mouth widths
SMILE_NEUTRAL_LIFT = 0.03  # a relaxed mouth's corners sit slightly above the lip midline
FROWN_DROP_PER_UNIT = 0.08
EYE_OPEN_ASPECT = 0.33  # eye aspect ratio of an open, relaxed eye (MediaPipe mesh)
EYE_WIDE_PER_UNIT = 0.35  # extra aspect ratio at eyeWide=1, relative to EYE_OPEN_ASPECT
GAZE_X_PER_UNIT = 0.18  # iris shift at eyeLookX=1, in eye widths
GAZE_Y_PER_UNIT = 0.14
GAZE_Y_REST = 0.02  # the iris centre rests slightly below the middle of the opening (mesh)
PITCH_BIAS_RAD = 0.17  # the forehead-chin axis of MediaPipe's mesh leans back on frontal faces
