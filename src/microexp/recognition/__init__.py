"""microexp.recognition"""
