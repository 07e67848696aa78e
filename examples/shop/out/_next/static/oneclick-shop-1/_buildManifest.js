self.__BUILD_MANIFEST={"/":["static/chunks/pages-index.js"]};
