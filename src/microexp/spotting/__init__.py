"""microexp.spotting"""
