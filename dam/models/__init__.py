from dam.models.library import Asset, AssetVersion, Collection, ImageFormat, Rendition

__all__ = ["Asset", "AssetVersion", "Collection", "ImageFormat", "Rendition"]
