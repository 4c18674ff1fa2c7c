"""wirekit.reasm"""
