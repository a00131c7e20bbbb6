--- KooDrive backups operations (issue 12: being written).
return {}
