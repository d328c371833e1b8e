nonroad
