"""Exports of a CalibrationProfile to the tools engineers already use: CamillaDSP, Equalizer APO,
REW filter settings (export and import), miniDSP biquad coefficients and WAV FIRs."""
