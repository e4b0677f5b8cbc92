"""Correction design: targets, PEQ, FIR, multi-seat combination, alignment -> CalibrationProfile.

Entry point: :func:`calib.correction.design.design_correction`.
"""
