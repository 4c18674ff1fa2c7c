"""wirekit.tools"""
